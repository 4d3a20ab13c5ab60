/**
 * Engine overhead: the same MMLU workload (personas × questions, instant backend) once as a plain in-process loop
 * over the batches and once through Temporal (dev server, workflow, shard children, batch activities, reduce).
 * Reports cells/s of both and their ratio.
 *
 *   node dist/bench/engine.js [--subjects 57] [--questions 256] [--batch 128]
 */
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { BackendRegistry } from '../backends/registry.js';
import { resolveConfig, PACKAGE_ROOT, type MmluSpec } from '../experiment/load.js';
import { planShards } from '../activities/index.js';
import { ResultStore, storePath, closeAllStores } from '../store/results.js';
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

export interface EngineBenchResult {
  cells: number;
  plainCellsPerSec: number;
  temporalCellsPerSec: number;
  ratio: number;
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

export async function engineBench(opts: { subjects: number; questions: number; batch: number }): Promise<EngineBenchResult> {
  const subjects = MMLU_SUBJECTS.slice(0, opts.subjects);
  const dir = mkdtempSync(join(tmpdir(), 'rolyplay-bench-'));
  const backend = new InstantBackend();
  try {
    // 1. Plain loop: plan, every batch in order, reduce.
    const spec = resolveConfig(config(join(dir, "plain"), "plain", subjects, opts.questions, opts.batch, "bench")) as MmluSpec;
    const t0 = performance.now();
    const store = new ResultStore(storePath(spec.outDir));
    const shards = planShards(spec);
    const total = shards.reduce((a, s) => a + s.cells, 0);
    store.saveRun({ run: spec.run, task: spec.task, specHash: spec.specHash, spec, totalCells: total });
    for (const shard of shards) for (const b of shard.batches) await mmluTask.runBatch({ spec, backend, store }, b);
    mmluTask.report(spec, store);
    const plainSec = (performance.now() - t0) / 1000;
    store.close();

    // 2. Through Temporal, on a local dev server with an in-process worker.
    const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), headless: true });
    installRuntime();
    const nc = await NativeConnection.connect({ address: server.address });
    const connection = await Connection.connect({ address: server.address });
    const backends = new BackendRegistry({ factory: async () => backend });
    const { workers } = await createWorkers({ connection: nc, taskQueues: ['bench'], backends });
    const worker = workers[0]!;
    const running = worker.run();
    try {
      const client = new Client({ connection });
      const cpu0 = process.cpuUsage();
      const srv0 = serverCpuMs(server.process.pid);
      const t1 = performance.now();
      const result = await client.workflow.execute(experimentWorkflow, {
        taskQueue: 'bench',
        workflowId: 'bench-temporal',
        args: [{ config: config(join(dir, 'temporal'), 'temporal', subjects, opts.questions, opts.batch, 'bench') }],
      });
      const temporalSec = (performance.now() - t1) / 1000;
      const cpu = process.cpuUsage(cpu0);
      if (process.env.BENCH_DEBUG) console.error({ temporalSec, workerCpuSec: (cpu.user + cpu.system) / 1e6, serverCpuSec: (serverCpuMs(server.process.pid) - srv0) / 1000 });
      if (result.cells !== total) throw new Error(`temporal run stored ${result.cells} cells, expected ${total}`);
      return {
        cells: total,
        plainCellsPerSec: total / plainSec,
        temporalCellsPerSec: total / temporalSec,
        ratio: plainSec / temporalSec,
        questionsPerBatch: opts.batch,
      };
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      await connection.close();
      await server.stop();
      closeAllStores();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { subjects: { type: 'string', default: '57' }, questions: { type: 'string', default: '256' }, batch: { type: 'string', default: '128' } } });
  const r = await engineBench({ subjects: Number(values.subjects), questions: Number(values.questions), batch: Number(values.batch) });
  console.log(JSON.stringify(r, null, 2));
}
