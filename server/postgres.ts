/**
 * A throwaway PostgreSQL cluster for tests and the benchmark: initdb in a temp folder, the server on a free loopback
 * port, a random password, removed on stop. Uses the installed binaries (Debian's `postgresql` package puts them in
 * /usr/lib/postgresql/<version>/bin; `$PG_BIN` overrides). PostgreSQL refuses to run as root, so as root the
 * cluster is owned by and run as the `postgres` user the package creates.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface ThrowawayPostgres {
  /** postgres://rolyplay:<password>@<first listen address>:<port>/rolyplay (default 127.0.0.1) */
  url: string;
  password: string;
  port: number;
  /** The postmaster's pid (its backends are its children): for CPU accounting in the benchmark. */
  pid: number;
  stop(): Promise<void>;
}

/** The folder holding initdb and postgres, or undefined if PostgreSQL is not installed. */
export function findPostgresBin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const has = (d: string) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres'));
  if (env.PG_BIN) return has(env.PG_BIN) ? env.PG_BIN : undefined;
  for (const d of (env.PATH ?? '').split(':')) if (d && has(d)) return d;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  }
  return undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as: install Debian\'s postgresql package (apt-get install -y postgresql)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Start a cluster. `durable: false` (tests) turns fsync off; the benchmark keeps fsync and by default only stops
 * commits from waiting for their WAL flush (synchronous_commit=off), the counterpart of SQLite's WAL with
 * synchronous=NORMAL: no corruption on any crash, the last commits (PostgreSQL: up to 3 × wal_writer_delay = 0.6 s)
 * lost on an OS crash or power loss (PostgreSQL's also on a crash of the server itself). `synchronousCommit: true`
 * is what a real server has by default: every commit waits for its WAL flush and survives power loss.
 */
export interface ThrowawayPostgresOptions {
  durable?: boolean;
  synchronousCommit?: boolean;
  timeoutMs?: number;
  /**
   * Addresses to listen on (IPv4); default ['127.0.0.1'], this machine only. The URL names the first. E.g. add the
   * host end of a veth pair so that a worker in another network namespace reaches the database.
   */
  listen?: string[];
  /** Client networks (CIDR, e.g. 10.1.2.0/24) allowed in besides the loopback: password (scram-sha-256) logins. */
  allow?: string[];
}

export async function startThrowawayPostgres(opts: ThrowawayPostgresOptions = {}): Promise<ThrowawayPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb/postgres on PATH, in $PG_BIN or /usr/lib/postgresql/*/bin): apt-get install -y postgresql');
  const owner = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'rolyplay-pg-'));
  const ids = owner ? { uid: owner.uid, gid: owner.gid } : {};
  let proc: ChildProcess | undefined;
  const stop = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGINT'); // "fast" shutdown: disconnect clients, stop
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const password = randomBytes(18).toString('base64url');
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    const data = join(dir, 'data');
    // A language-aware default collation (ICU en-US sorts "a" before "B"), as most real databases have: the store
    // must not depend on the database's collation for its byte order. Plain C where PostgreSQL lacks ICU.
    const initdb = (locale: string[]) =>
      spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'rolyplay', `--pwfile=${pwfile}`, '--auth=scram-sha-256', ...locale, '-E', 'UTF8', '--no-sync'], {
        ...ids,
        encoding: 'utf8',
        timeout: 120_000,
      });
    let init = initdb(['--locale=C.UTF-8', '--locale-provider=icu', '--icu-locale=en-US']);
    if (init.status !== 0) {
      rmSync(data, { recursive: true, force: true });
      init = initdb(['--locale=C']);
    }
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error?.message}`);
    const listen = opts.listen?.length ? opts.listen : ['127.0.0.1'];
    for (const a of listen) if (!/^[\d.]+$/.test(a)) throw new Error(`listen: ${a} is not an IPv4 address`);
    for (const n of opts.allow ?? []) {
      if (!/^[\d.]+\/\d+$/.test(n)) throw new Error(`allow: ${n} is not an IPv4 network (a.b.c.d/len)`);
    }
    if (opts.allow?.length) {
      const hba = join(data, 'pg_hba.conf');
      writeFileSync(hba, `${readFileSync(hba, 'utf8')}\n${opts.allow.map((n) => `host all all ${n} scram-sha-256`).join('\n')}\n`);
    }
    const port = await freePort(listen[0] as string);
    const settings = ['-c', `listen_addresses=${listen.join(',')}`, '-c', 'max_connections=200', '-c', `synchronous_commit=${opts.synchronousCommit ? 'on' : 'off'}`, ...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'])];
    proc = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, ...settings], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const admin = `postgres://rolyplay:${encodeURIComponent(password)}@${listen[0]}:${port}`;
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postgres exited with code ${proc.exitCode}: ${log}`);
      const c = new pg.Client({ connectionString: `${admin}/postgres`, connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.query('CREATE DATABASE rolyplay');
        await c.end();
        break;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${opts.timeoutMs ?? 60_000} ms: ${(err as Error).message}; ${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return { url: `${admin}/rolyplay`, password, port, pid: proc.pid as number, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
