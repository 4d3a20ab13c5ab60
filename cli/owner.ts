/**
 * One owner per run folder. The process that runs a local run (its dev server and worker) holds `owner.json` in the
 * run folder, created exclusively; a second `rolyplay run` of the same run finds a live owner and attaches to its
 * server instead of starting another dev server on the same temporal.db. An owner killed with -9 leaves a stale file
 * whose dev server (if still alive) the next owner reuses, so there is never an orphan server nobody can reach.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../server/devServer.js';

export { isAlive };

export interface OwnerInfo {
  /** The process that owns the run (foreground `run` or the background process of `run --detach`). */
  pid: number;
  startedAt: string;
  /** Set once the dev server answers. */
  address?: string;
  uiUrl?: string;
  serverPid?: number;
  /** The owner runs in the background (`run --detach`); its output goes to run.log. */
  background?: boolean;
  /** Set once the workflow is started (or attached). */
  running?: boolean;
  /** The owner has exited and told its dev server to stop (it takes a few seconds): wait for it, do not reuse it. */
  serverStopping?: boolean;
}

export function ownerFile(outDir: string): string {
  return join(outDir, 'owner.json');
}

export function readOwner(outDir: string): OwnerInfo | undefined {
  try {
    return JSON.parse(readFileSync(ownerFile(outDir), 'utf8')) as OwnerInfo;
  } catch {
    return undefined; // absent, or being written (the writer renames a complete file into place)
  }
}

export type Claim =
  | { kind: 'owner'; lock: OwnerLock; stale?: OwnerInfo }
  | { kind: 'held'; owner: OwnerInfo };

export interface OwnerLock {
  info: OwnerInfo;
  update(fields: Partial<OwnerInfo>): void;
  release(): void;
}

/** Become the owner of the run folder, or learn who is. A file of a dead process is broken and returned as `stale`. */
export function claimRunFolder(outDir: string, opts: { background?: boolean } = {}): Claim {
  const file = ownerFile(outDir);
  let stale: OwnerInfo | undefined;
  for (let tries = 0; tries < 5; tries++) {
    const info: OwnerInfo = { pid: process.pid, startedAt: new Date().toISOString(), ...(opts.background ? { background: true } : {}) };
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const current = readOwner(outDir);
      if (current && current.pid !== process.pid && isAlive(current.pid)) return { kind: 'held', owner: current };
      if (!current) {
        // Created but not yet written by another process: give it a moment.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        if (readOwner(outDir) === undefined && tries < 4) continue;
      }
      // Dead owner: move its file aside atomically (one of several racing processes wins), then claim again.
      try {
        renameSync(file, `${file}.stale-${process.pid}`);
        stale = current ?? stale;
        rmSync(`${file}.stale-${process.pid}`, { force: true });
      } catch {
        // another process broke it first
      }
      continue;
    }
    writeSync(fd, JSON.stringify(info));
    closeSync(fd);
    const lock: OwnerLock = {
      info,
      update(fields) {
        Object.assign(info, fields);
        const tmp = `${file}.tmp-${process.pid}`;
        try {
          writeFileSync(tmp, JSON.stringify(info));
          renameSync(tmp, file);
        } catch {
          // Best effort (e.g. the disk just filled): the file keeps our pid, which is what matters most.
          rmSync(tmp, { force: true });
        }
      },
      release() {
        if (readOwner(outDir)?.pid === process.pid) rmSync(file, { force: true });
      },
    };
    return { kind: 'owner', lock, ...(stale ? { stale } : {}) };
  }
  throw new Error(`could not claim ${file}: another process keeps replacing it; remove it if no rolyplay process runs this run`);
}

/** Wait until the owner has published its server address (it may still be starting the dev server). */
export async function waitForOwnerAddress(outDir: string, pid: number, timeoutMs: number): Promise<OwnerInfo | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const o = readOwner(outDir);
    if (!o || o.pid !== pid || !isAlive(pid)) return undefined;
    if (o.address && o.running) return o;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}
