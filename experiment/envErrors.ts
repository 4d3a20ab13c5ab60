/**
 * Environment failures (disk full, unwritable or invalid output folder, unreachable servers): not the config's
 * fault and not healed by retrying soon. The message names the path or address and the fix; the activity layer
 * makes them non-retryable so a run fails in seconds instead of retrying for ever, and the CLI exits with them.
 */
import { existsSync, mkdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export class EnvironmentError extends Error {
  constructor(readonly problem: string, readonly fix: string) {
    super(`${problem}. Fix: ${fix}.`);
    this.name = 'EnvironmentError';
  }
}

/** File-system error codes (Node's and SQLite's) that retrying cannot fix, with what to do about each. */
const FS_FIXES: Record<string, (path: string) => string> = {
  ENOSPC: (p) => `the disk holding ${p} is full: free space there or set output.dir to another disk, then run again (stored results are kept)`,
  SQLITE_FULL: (p) => `the disk holding ${p} is full: free space there or set output.dir to another disk, then run again (stored results are kept)`,
  EDQUOT: (p) => `the disk quota for ${p} is used up: free space or set output.dir elsewhere`,
  EROFS: (p) => `${p} is on a read-only file system: set output.dir to a writable folder`,
  SQLITE_READONLY: (p) => `${p} is read-only: make it writable or set output.dir to a writable folder`,
  EACCES: (p) => `no permission to write ${p}: make it writable or set output.dir to a writable folder`,
  EPERM: (p) => `no permission to write ${p}: make it writable or set output.dir to a writable folder`,
  ENOTDIR: (p) => `a part of ${p} is a file, not a folder: set output.dir to a folder`,
  EEXIST: (p) => `${p} exists and is not a folder: set output.dir to a folder (or remove that file)`,
  ENOENT: (p) => `${p} cannot be created (a parent is missing or not writable, e.g. under /proc): set output.dir to a writable folder`,
  SQLITE_CANTOPEN: (p) => `cannot open the result store in ${p}: set output.dir to a writable folder`,
  SQLITE_IOERR: (p) => `I/O error writing ${p} (disk full or failing): free space or set output.dir elsewhere`,
};

/** An EnvironmentError for a file-system failure at `path`, or undefined if `err` is not one (e.g. a bug). */
export function fsEnvironmentError(err: unknown, path: string): EnvironmentError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return undefined;
  // SQLite's extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED...) share their primary code's fix.
  const key = Object.keys(FS_FIXES).find((k) => code === k || code.startsWith(`${k}_`));
  if (!key) return undefined;
  const msg = (err as Error).message ?? '';
  return new EnvironmentError(`cannot write ${path} (${msg.startsWith(code) ? msg : `${code}: ${msg}`})`, (FS_FIXES[key] as (p: string) => string)(path));
}

/**
 * Make sure the run folder exists and takes a write, in milliseconds, before any server starts: a folder that is a
 * file, under /proc, read-only or on a full disk would otherwise surface late (or as a retried activity).
 */
export function checkOutputFolder(dir: string): void {
  try {
    makeDirs(dir);
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: 'ENOTDIR' });
    const { bavail, bsize } = statfsSync(dir);
    if (bavail * bsize < 1 << 20) throw Object.assign(new Error(`only ${bavail * bsize} bytes free`), { code: 'ENOSPC' });
    const probe = join(dir, `.write-probe-${process.pid}`);
    // A page, not a byte: a nearly full disk may still take a byte.
    writeFileSync(probe, Buffer.alloc(4096));
    rmSync(probe, { force: true });
  } catch (err) {
    throw fsEnvironmentError(err, dir) ?? err;
  }
}

/**
 * `mkdir -p` that fails instead of looping: Node's `mkdirSync(..., { recursive: true })` spins for ever on a path
 * under /proc (mkdir says ENOENT, the parent exists, repeat). Creates each missing component in turn.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.unshift(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
