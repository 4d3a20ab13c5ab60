/** `rolyplay ui <run>`: serve the Temporal web UI over a local run's dev-server db, until Ctrl-C. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../experiment/errors.js';
import { startDevServer } from '../../server/devServer.js';
import { runFolder } from './results.js';
import { workflowIdFor } from '../runs.js';

export async function uiCommand(run: string, opts: { output: string; port?: number }): Promise<void> {
  const { dir, name } = runFolder(run, opts.output);
  const db = join(dir, 'temporal.db');
  if (!existsSync(db)) {
    throw new InputError('run', `${dir} has no temporal.db (the run went to an external cluster, or it never started locally)`, 'open that cluster\'s web UI, or run locally (no TEMPORAL_ADDRESS)');
  }
  // The db is SQLite: a second server on it while the run's own CLI still runs would compete for it.
  const server = await startDevServer({ dbFile: db, ...(opts.port ? { uiPort: opts.port } : {}), logFile: join(dir, 'ui.log') });
  const url = `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowIdFor(name))}`;
  process.stdout.write(`web UI: ${url}\n`);
  process.stderr.write(`serving ${db} (address ${server.address}); no worker runs here, so an unfinished run does not advance. Ctrl-C stops.\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.stop();
}
