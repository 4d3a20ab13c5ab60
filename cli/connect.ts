/** Where runs execute: an external cluster ($TEMPORAL_ADDRESS) or a dev server the CLI starts on the run's db file. */
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../server/devServer.js';
import { ensureSearchAttributes } from '../server/searchAttributes.js';
import { installRuntime } from '../workers/index.js';

export interface Cluster {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  /** Worker-side connection (native). */
  workerConnection(): Promise<NativeConnection>;
  devServer?: DevServer;
  close(): Promise<void>;
}

export async function connectCluster(opts: { outDir?: string; headless?: boolean; log?: (m: string) => void }): Promise<Cluster> {
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  let devServer: DevServer | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    if (!opts.outDir) throw new Error('no TEMPORAL_ADDRESS and no run folder to keep a local dev server in');
    devServer = await startDevServer({ dbFile: join(opts.outDir, 'temporal.db'), headless: opts.headless ?? false });
    address = devServer.address;
    opts.log?.(`local Temporal dev server at ${address}${devServer.uiUrl ? `, web UI ${devServer.uiUrl}` : ''} (db ${join(opts.outDir, 'temporal.db')})`);
  }
  const connection = await Connection.connect({ address });
  if (!devServer) await ensureSearchAttributes(connection, namespace);
  const client = new Client({ connection, namespace });
  const native: NativeConnection[] = [];
  return {
    address,
    namespace,
    client,
    connection,
    devServer,
    async workerConnection() {
      installRuntime(opts.outDir ? { logFile: join(opts.outDir, 'worker.log') } : {});
      const c = await NativeConnection.connect({ address });
      native.push(c);
      return c;
    },
    async close() {
      await connection.close();
      for (const c of native) await c.close().catch(() => undefined);
      await devServer?.stop();
    },
  };
}
