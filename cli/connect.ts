/** Where runs execute: an external cluster ($TEMPORAL_ADDRESS) or a dev server the CLI starts on the run's db file. */
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { join } from 'node:path';
import { adoptDevServer, isAlive, startDevServer, type DevServer } from '../server/devServer.js';
import { ensureSearchAttributes } from '../server/searchAttributes.js';
import { installRuntime } from '../workers/index.js';
import { EnvironmentError } from '../experiment/envErrors.js';

export interface Cluster {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  /** Worker-side connection (native). */
  workerConnection(): Promise<NativeConnection>;
  devServer?: DevServer;
  /** `waitForServer: false`: signal the local dev server to stop and return without waiting for it. */
  close(opts?: { waitForServer?: boolean }): Promise<void>;
}

/** How long a connection attempt to Temporal may take before it is reported as unreachable. */
export const CONNECT_TIMEOUT_MS = 5000;

export async function connectCluster(opts: {
  outDir?: string;
  headless?: boolean;
  log?: (m: string) => void;
  /** Attach to this address (a local run owned by another process) instead of starting a dev server. */
  address?: string;
  /** A dev server left by a killed owner: reused if it still answers. */
  reuse?: { address: string; pid: number; uiUrl?: string; stopping?: boolean };
}): Promise<Cluster> {
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  let devServer: DevServer | undefined;
  const external = process.env.TEMPORAL_ADDRESS;
  let address = opts.address ?? external;
  if (!address) {
    if (!opts.outDir) throw new Error('no TEMPORAL_ADDRESS and no run folder to keep a local dev server in');
    const dbFile = join(opts.outDir, 'temporal.db');
    if (opts.reuse) {
      if (!opts.reuse.stopping) devServer = await adoptDevServer({ ...opts.reuse, logFile: `${dbFile}.log` });
      if (devServer) opts.log?.(`reusing the dev server left running by an interrupted rolyplay (pid ${devServer.pid})`);
      // Still stopping (the previous owner does not wait for that): two servers must never share the db.
      else if (await outlives(opts.reuse.pid, 10_000)) process.kill(opts.reuse.pid, 'SIGKILL');
    }
    devServer ??= await startDevServer({ dbFile, headless: opts.headless ?? false });
    address = devServer.address;
    opts.log?.(`local Temporal dev server at ${address}${devServer.uiUrl ? `, web UI ${devServer.uiUrl}` : ''} (db ${dbFile})`);
  }
  const connection = await connectOrExplain(address, external !== undefined && address === external);
  try {
    if (!devServer && !opts.address) await ensureSearchAttributes(connection, namespace);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const client = new Client({ connection, namespace });
  const native: NativeConnection[] = [];
  return {
    address,
    namespace,
    client,
    connection,
    ...(devServer ? { devServer } : {}),
    async workerConnection() {
      installRuntime(opts.outDir ? { logFile: join(opts.outDir, 'worker.log') } : {});
      const c = await NativeConnection.connect({ address });
      native.push(c);
      return c;
    },
    async close(o = {}) {
      await connection.close().catch(() => undefined);
      for (const c of native) await c.close().catch(() => undefined);
      await devServer?.stop('SIGTERM', { wait: o.waitForServer ?? true });
    },
  };
}

/** Connect, or fail within CONNECT_TIMEOUT_MS with the address and what to do about it. */
export async function connectOrExplain(address: string, fromEnv: boolean, timeoutMs = CONNECT_TIMEOUT_MS): Promise<Connection> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
    return connection;
  } catch (err) {
    throw new EnvironmentError(
      `cannot reach Temporal at ${address}${fromEnv ? ' (TEMPORAL_ADDRESS)' : ''} within ${timeoutMs / 1000} s: ${(err as Error).message.split('\n')[0]}`,
      fromEnv
        ? 'start that cluster or correct TEMPORAL_ADDRESS (host:port of its frontend, usually 7233); unset TEMPORAL_ADDRESS to run on a local dev server of this tool'
        : 'the local dev server is not answering; run the command again (it restarts the server and resumes the run)',
    );
  }
}

/** Waits up to `ms` for process `pid` to exit; true if it is still alive then. */
async function outlives(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!isAlive(pid)) return false;
    if (Date.now() > end) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
}
