/**
 * Starts `temporal server start-dev` as a child process on a db file (state survives restarts), with our search
 * attributes registered, and waits until it answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';
import { ensureTemporalCli } from './temporalCli.js';

export interface DevServerOptions {
  dbFile: string;
  /**
   * The address to listen on; default 127.0.0.1 (this machine only). '0.0.0.0' (every interface; `address` then
   * names 127.0.0.1) lets workers elsewhere in, e.g. one in another network namespace behind a veth pair
   * (tests/multi-machine.test.ts). Not a single other address: the dev server's own services dial each other at
   * 127.0.0.1, so with `--ip 10.1.2.1` it starts but cannot start a workflow (temporal CLI 1.9.1).
   */
  ip?: string;
  port?: number;
  uiPort?: number;
  /** No web UI (tests). */
  headless?: boolean;
  namespace?: string;
  /** Extra `--dynamic-config-value` entries, e.g. `limit.historyCount.suggestContinueAsNew=50`. */
  dynamicConfig?: string[];
  /** Server log file; default: <db file>.log */
  logFile?: string;
  cli?: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  pid: number;
  logFile: string;
  /** Resolves when the server process exits (for whatever reason). */
  exited: Promise<void>;
  /** Whether it has exited. */
  readonly dead: boolean;
  /**
   * Ask the server to stop. With `wait: false`, return at once: its graceful stop takes ~3 s, which a user who pressed
   * Ctrl-C should not wait for (the next owner of the run folder waits for it instead).
   */
  stop(signal?: NodeJS.Signals, opts?: { wait?: boolean }): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer & { process: ChildProcess }> {
  const cli = opts.cli ?? ensureTemporalCli();
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(ip));
  const uiPort = opts.uiPort ?? (await freePort(ip));
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--db-filename', opts.dbFile, '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const dc of opts.dynamicConfig ?? []) args.push('--dynamic-config-value', dc);
  const logFile = opts.logFile ?? `${opts.dbFile}.log`;
  const log = openSync(logFile, 'a');
  // Its own process group: a Ctrl-C in the terminal reaches only the CLI, which stops the server last, after the
  // worker has reported its in-flight batches.
  const child = spawn(cli, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const reach = ip === '0.0.0.0' ? '127.0.0.1' : ip.includes(':') ? `[${ip}]` : ip;
  const address = `${reach}:${port}`;
  let exited = false;
  const exitedP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', o: { wait?: boolean } = {}) => {
    if (exited) return;
    child.kill(signal);
    if (o.wait === false) {
      child.unref();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitedP;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`temporal dev server exited at start; see ${opts.logFile ?? `${opts.dbFile}.log`}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop('SIGKILL');
        throw new Error(`temporal dev server did not answer on ${address} within 60 s: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    ...(opts.headless ? {} : { uiUrl: `http://${reach}:${uiPort}` }),
    process: child,
    pid: child.pid as number,
    logFile,
    exited: exitedP,
    get dead() {
      return exited;
    },
    stop,
  };
}

/** Whether a Temporal frontend answers on `address` within `timeoutMs`. */
export async function answers(address: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await conn.withDeadline(Date.now() + timeoutMs, () => conn.workflowService.getSystemInfo({}));
      return true;
    } finally {
      await conn.close();
    }
  } catch {
    return false;
  }
}

/**
 * Take over a dev server started by an earlier owner that was killed (kill -9 leaves the server running): its pid
 * and address come from the run folder's owner file. Undefined if it is gone or does not answer.
 */
export async function adoptDevServer(opts: { address: string; pid: number; uiUrl?: string; logFile: string }): Promise<DevServer | undefined> {
  const alive = () => isAlive(opts.pid);
  if (!alive() || !(await answers(opts.address))) return undefined;
  let exited = false;
  // Not our child: poll for its exit.
  const exitedP = new Promise<void>((r) => {
    const t = setInterval(() => {
      if (!alive()) {
        exited = true;
        clearInterval(t);
        r();
      }
    }, 250);
    t.unref();
  });
  return {
    address: opts.address,
    ...(opts.uiUrl ? { uiUrl: opts.uiUrl } : {}),
    pid: opts.pid,
    logFile: opts.logFile,
    exited: exitedP,
    get dead() {
      return exited;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', o: { wait?: boolean } = {}) {
      if (exited || !alive()) return;
      process.kill(opts.pid, signal);
      if (o.wait === false) return;
      const end = Date.now() + 5000;
      while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (alive()) process.kill(opts.pid, 'SIGKILL');
    },
  };
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
