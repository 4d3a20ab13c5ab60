/** `npm run setup:temporal`: make sure a temporal CLI is available and print where it is. */
import { ensureTemporalCli } from './temporalCli.js';

console.log(ensureTemporalCli());
