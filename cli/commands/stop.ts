/** `rolyplay stop <run>`: end a local run's owner process (it lets in-flight batches report) or a server left behind. */
import { existsSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InputError } from '../../experiment/errors.js';
import { isAlive, ownerFile, readOwner } from '../owner.js';
import { storedCount } from '../runs.js';
import { sqlitePath as storePath, storesFromEnv } from '../../store/results.js';

/** The run folder of a run name (under `output`) or a path; it may hold only an owner file (still planning). */
export function findRunDir(run: string, output: string): string {
  for (const dir of [resolve(run), resolve(output, run)]) {
    if (existsSync(storePath(dir)) || existsSync(ownerFile(dir))) return dir;
  }
  throw new InputError('run', `no run "${run}" (looked in ${resolve(run)} and ${resolve(output, run)})`, 'pass the run name and --output base folder, or the run folder');
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

export async function stopCommand(run: string, opts: { output: string }): Promise<void> {
  const dir = findRunDir(run, opts.output);
  const owner = readOwner(dir);
  const say = (m: string) => process.stdout.write(`${m}\n`);
  const stores = await storesFromEnv();
  const count = async () => storedCount(stores, { run: basename(dir), outDir: dir }).catch(() => 0);
  const kept = async () => `${await count()} results stored in ${storePath(dir)} are kept`;
  if (owner && isAlive(owner.pid)) {
    const t0 = Date.now();
    process.kill(owner.pid, 'SIGTERM');
    if (!(await waitGone(owner.pid, 15_000))) {
      process.kill(owner.pid, 'SIGKILL');
      await waitGone(owner.pid, 2000);
    }
    if (owner.serverPid && isAlive(owner.serverPid)) {
      process.kill(owner.serverPid, 'SIGTERM');
      await waitGone(owner.serverPid, 5000);
    }
    say(`stopped run ${run} (process ${owner.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${await kept()}; \`rolyplay run <config>\` resumes it`);
    return;
  }
  if (owner?.serverPid && isAlive(owner.serverPid)) {
    // The owner was killed (-9) and left its dev server behind.
    process.kill(owner.serverPid, 'SIGTERM');
    await waitGone(owner.serverPid, 5000);
    rmSync(ownerFile(dir), { force: true });
    say(`run ${run} had no live owner; stopped the dev server it left behind (process ${owner.serverPid}); ${await kept()}`);
    return;
  }
  if (owner) rmSync(ownerFile(dir), { force: true });
  say(`run ${run} is not running; ${await kept()}`);
}
