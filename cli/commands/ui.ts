/** `rolyplay ui <run>`: serve the Temporal web UI over a local run's dev-server db, until Ctrl-C. */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../../experiment/errors.js';
import { startDevServer } from '../../server/devServer.js';
import { workflowIdFor } from '../runs.js';

export async function uiCommand(run: string, opts: { output: string; port?: number }): Promise<void> {
  // The run folder is found by its dev server's db, not its results.sqlite: with a shared store (ROLYPLAY_STORE) a
  // local run's folder holds the db but no results.sqlite.
  const candidates = [resolve(run), resolve(opts.output, run)];
  const dir = candidates.find((d) => existsSync(join(d, 'temporal.db')));
  if (!dir) {
    throw new InputError('run', `no temporal.db in ${candidates.join(' or ')} (the run went to an external cluster, or it never started here)`, 'pass the run name and --output base folder, or the run folder; for a run on an external cluster open that cluster\'s web UI');
  }
  const name = basename(dir);
  const db = join(dir, 'temporal.db');
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
