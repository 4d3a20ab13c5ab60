/**
 * Engine overhead: the same MMLU workload (personas × questions, instant backend) as a plain in-process loop over
 * the batches, then through Temporal (dev server, workflow, shard children, batch activities, reduce) once with the
 * SQLite store and once with the PostgreSQL store (a throwaway cluster, or $ROLYPLAY_BENCH_STORE). Reports cells/s
 * of each and the ratios temporal/plain and postgres/sqlite.
 *
 *   node dist/bench/engine.js [--subjects 57] [--questions 256] [--batch 128] [--no-postgres] [--synchronous-commit on|off]
 *
 * Durability of the two sides: SQLite runs in WAL mode with synchronous=NORMAL (commits survive a crash of the
 * process, the last ones may be lost on an OS crash or power loss). The throwaway PostgreSQL keeps fsync and
 * full_page_writes and by default runs synchronous_commit=off, the like of that (the last commits, up to 0.6 s, may be
 * lost on a crash of the server, the OS or the power); --synchronous-commit on measures a real server's default,
 * every commit flushed, which is stronger than the SQLite side. BENCH_DEBUG=1 prints time per store method and the
 * CPU of the worker, the Temporal server and the PostgreSQL cluster; ROLYPLAY_STORE_POOL sets the connections.
 */
import { join } from 'node:path';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import '../tasks/index.js';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { BackendRegistry } from '../backends/registry.js';
import { resolveConfig, PACKAGE_ROOT } from '../experiment/load.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import { planShards } from '../activities/index.js';
import { SqliteStore, SqliteStores, sqlitePath, storesFromEnv, type ResultStore, type StoreResolver } from '../store/results.js';
import { startThrowawayPostgres } from '../server/postgres.js';
import { mmluTask } from '../tasks/mmlu/task.js';
import { MMLU_SUBJECTS } from '../tasks/mmlu/categories.js';
import { startDevServer } from '../server/devServer.js';
import { createWorkers, installRuntime } from '../workers/index.js';
import { experimentWorkflow } from '../workflows/index.js';
import { InstantBackend } from './instantBackend.js';

/** CPU time (user + system) of a process, from /proc (Linux), in ms. */
function serverCpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** CPU time of a process and its live children (PostgreSQL's postmaster and its backends), in ms. */
function treeCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let ms = serverCpuMs(pid);
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(f[1]) === pid) ms += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

/** BENCH_DEBUG: wall time and calls per store method (overlapping calls add up), to see where a store loses. */
function timedStores(inner: StoreResolver, timings: Map<string, { calls: number; ms: number }>): StoreResolver {
  const wrap = (store: ResultStore): ResultStore =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function' || typeof prop !== 'string' || prop.startsWith('stream')) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: unknown[]) => {
          const t = performance.now();
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            const e = timings.get(prop) ?? { calls: 0, ms: 0 };
            e.calls++;
            e.ms += performance.now() - t;
            timings.set(prop, e);
          }
        };
      },
    });
  return { shared: inner.shared, label: inner.label, forRun: async (run) => wrap(await inner.forRun(run)), close: () => inner.close() };
}

export interface EngineBenchResult {
  cells: number;
  plainCellsPerSec: number;
  temporalCellsPerSec: number;
  /** Temporal (SQLite store) over the plain loop. */
  ratio: number;
  /** Through Temporal with the PostgreSQL store (undefined with postgres: false). */
  postgresCellsPerSec?: number;
  /** PostgreSQL store over SQLite store, both through Temporal. */
  postgresRatio?: number;
  questionsPerBatch: number;
}

function config(outDir: string, name: string, subjects: string[], questions: number, batch: number, taskQueue: string) {
  return {
    name,
    task: 'mmlu',
    data: { path: join(PACKAGE_ROOT, '..', 'shared', 'data', 'mmlu'), subjects, limit: questions },
    personas: ['mmlu_experts', 'baseline'],
    model: { backend: 'openai', model: 'instant', base_url: 'http://127.0.0.1:9/v1' },
    // The other execution settings are the defaults users get (4 shards × 2 batches in flight).
    execution: { questions_per_batch: batch, task_queue: taskQueue },
    output: { dir: outDir },
  };
}

export async function engineBench(opts: { subjects: number; questions: number; batch: number; postgres?: boolean; synchronousCommit?: boolean }): Promise<EngineBenchResult> {
  const subjects = MMLU_SUBJECTS.slice(0, opts.subjects);
  const dir = mkdtempSync(join(tmpdir(), 'rolyplay-bench-'));
  const backend = new InstantBackend();
  const pgUrl = opts.postgres === false ? undefined : process.env.ROLYPLAY_BENCH_STORE;
  const pgServer = opts.postgres === false || pgUrl ? undefined : await startThrowawayPostgres({ durable: true, synchronousCommit: opts.synchronousCommit ?? false });
  try {
    // 1. Plain loop: plan, every batch in order, reduce.
    const spec = resolveConfig(config(join(dir, 'plain'), 'plain', subjects, opts.questions, opts.batch, 'bench')) as MmluSpec;
    const t0 = performance.now();
    const store = new SqliteStore(sqlitePath(spec.outDir));
    const shards = planShards(spec, await mmluTask.stages[0]!.plan(spec, store));
    const total = shards.reduce((a, s) => a + s.cells, 0);
    await store.saveRun({ run: spec.run, task: spec.task, specHash: spec.specHash, spec, totalCells: total });
    for (const shard of shards) for (const b of shard.batches) await mmluTask.stages[0]!.runBatch({ spec, backend: async () => backend, store }, b);
    await mmluTask.report(spec, store, spec.outDir);
    const plainSec = (performance.now() - t0) / 1000;
    await store.close();

    // 2. Through Temporal, each store on a fresh local dev server (so neither inherits the other's history) with an
    //    in-process worker: SQLite, then PostgreSQL.
    installRuntime();
    const backends = new BackendRegistry({ factory: async () => backend });
    const throughTemporal = async (name: string, untimed: StoreResolver): Promise<number> => {
      const timings = new Map<string, { calls: number; ms: number }>();
      const stores = process.env.BENCH_DEBUG ? timedStores(untimed, timings) : untimed;
      const server = await startDevServer({ dbFile: join(dir, `temporal-${name}.db`), headless: true });
      const nc = await NativeConnection.connect({ address: server.address });
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection });
      const { workers } = await createWorkers({ connection: nc, taskQueues: ['bench'], backends, stores });
      const worker = workers[0]!;
      const running = worker.run();
      try {
        const cpu0 = process.cpuUsage();
        const srv0 = serverCpuMs(server.process.pid);
        const pg0 = name === 'postgres' ? treeCpuMs(pgServer?.pid) : NaN;
        const t1 = performance.now();
        const result = await client.workflow.execute(experimentWorkflow, {
          taskQueue: 'bench',
          workflowId: `bench-${name}`,
          args: [{ config: config(join(dir, name), name, subjects, opts.questions, opts.batch, 'bench') }],
        });
        const sec = (performance.now() - t1) / 1000;
        const cpu = process.cpuUsage(cpu0);
        if (process.env.BENCH_DEBUG) {
          const store = Object.fromEntries([...timings].map(([k, v]) => [k, `${v.calls} calls, ${(v.ms / 1000).toFixed(2)} s`]));
          console.error({ name, sec, workerCpuSec: (cpu.user + cpu.system) / 1e6, serverCpuSec: (serverCpuMs(server.process.pid) - srv0) / 1000, postgresCpuSec: (treeCpuMs(pgServer?.pid) - pg0) / 1000, store });
        }
        if (result.cells !== total) throw new Error(`${name} run stored ${result.cells} cells, expected ${total}`);
        return sec;
      } finally {
        worker.shutdown();
        await running;
        await stores.close();
        await nc.close();
        await connection.close();
        await server.stop();
      }
    };
    const sqliteSec = await throughTemporal('sqlite', new SqliteStores());
    const url = pgUrl ?? pgServer?.url;
    // As a worker opens it: ROLYPLAY_STORE_POOL (connections per process) applies.
    const pgSec = url ? await throughTemporal('postgres', await storesFromEnv({ ROLYPLAY_STORE: url, ROLYPLAY_STORE_POOL: process.env.ROLYPLAY_STORE_POOL })) : undefined;
    return {
      cells: total,
      plainCellsPerSec: total / plainSec,
      temporalCellsPerSec: total / sqliteSec,
      ratio: plainSec / sqliteSec,
      ...(pgSec === undefined ? {} : { postgresCellsPerSec: total / pgSec, postgresRatio: sqliteSec / pgSec }),
      questionsPerBatch: opts.batch,
    };
  } finally {
    await pgServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { subjects: { type: 'string', default: '57' }, questions: { type: 'string', default: '256' }, batch: { type: 'string', default: '128' }, 'no-postgres': { type: 'boolean', default: false }, 'synchronous-commit': { type: 'string', default: 'off' } } });
  const sc = values['synchronous-commit'];
  if (sc !== 'on' && sc !== 'off') throw new Error(`--synchronous-commit must be on or off, got ${sc}`);
  const r = await engineBench({ subjects: Number(values.subjects), questions: Number(values.questions), batch: Number(values.batch), postgres: !values['no-postgres'], synchronousCommit: sc === 'on' });
  console.log(JSON.stringify(r, null, 2));
}
