/** Several `rolyplay worker` processes (dist/) on one task queue, for run-control tests with real processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../experiment/load.js';
import { tmpDir } from './harness.js';

export const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

export interface Fleet {
  workers: ChildProcess[];
  logs: string[];
  kill(): Promise<void>;
}

/**
 * `n` worker processes, each in a folder of its own; `store`: a PostgreSQL URL, else the store of this process's
 * ROLYPLAY_STORE (ROLYPLAY_TEST_STORE=postgres), else the run folder's SQLite file.
 */
export function startFleet(opts: { n: number; taskQueue: string; address: string; store?: string; concurrency?: number }): Fleet {
  const logs: string[] = [];
  const workers: ChildProcess[] = [];
  for (let k = 0; k < opts.n; k++) {
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: opts.address, TEST_OPENAI_KEY: 'sk-test' };
    if (opts.store) env.ROLYPLAY_STORE = opts.store;
    const i = logs.push('') - 1;
    const w = spawn(process.execPath, [CLI, 'worker', '--task-queue', opts.taskQueue, '--concurrency', String(opts.concurrency ?? 4)], {
      cwd: tmpDir('rolyplay-fleet-'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    w.stdout?.on('data', (d: Buffer) => (logs[i] += d.toString()));
    w.stderr?.on('data', (d: Buffer) => (logs[i] += d.toString()));
    workers.push(w);
  }
  return {
    workers,
    logs,
    async kill() {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.exitCode !== null || w.signalCode !== null) return resolve();
              w.once('exit', () => resolve());
              w.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

export async function waitFor<T>(pred: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
