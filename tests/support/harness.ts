/** Shared test wiring: a client and in-process worker on the suite's dev server, each test on its own queue. */
import { afterAll, beforeAll, inject } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI, type Policy } from './fakeOpenAI.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Client, Connection, WorkflowIdConflictPolicy } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { BackendRegistry } from '../../backends/registry.js';
import { startDevServer, type DevServer } from '../../server/devServer.js';
import type { StoreResolver } from '../../store/results.js';
import { PACKAGE_ROOT } from '../../experiment/load.js';
import { createWorkers, installRuntime } from '../../workers/index.js';
import { experimentWorkflow } from '../../workflows/index.js';
import type { ExperimentInput, ExperimentResult } from '../../workflows/types.js';
import { comparableMetrics } from './cells.js';
import { taskFor } from '../../experiment/tasks.js';
import type { ExperimentSpec } from '../../experiment/load.js';
import { writeRunReportOrError } from '../../report/index.js';

export const MMLU_DATA = resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'mmlu');

export function tmpDir(prefix = 'rolyplay-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Harness {
  client: Client;
  taskQueue: string;
  address: string;
  /** `stores`: the worker's result stores (default: from this process's ROLYPLAY_STORE, i.e. SQLite); closed with it. */
  startWorker(opts?: { env?: NodeJS.ProcessEnv; shutdownGraceTime?: string; stores?: StoreResolver }): Promise<Worker>;
  run(input: ExperimentInput, opts?: { workflowId?: string }): Promise<ExperimentResult>;
  close(): Promise<void>;
}

export async function harness(address = inject('temporalAddress')): Promise<Harness> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const taskQueue = `test-${randomUUID()}`;
  const native: NativeConnection[] = [];
  const running: { worker: Worker; done: Promise<void>; backends: BackendRegistry; stores: StoreResolver; fromEnv: boolean }[] = [];
  const h: Harness = {
    client,
    taskQueue,
    address,
    async startWorker(opts = {}) {
      installRuntime();
      const nc = await NativeConnection.connect({ address });
      native.push(nc);
      const backends = new BackendRegistry({ env: opts.env ?? { TEST_OPENAI_KEY: 'sk-test' } });
      const { workers, stores } = await createWorkers({
        connection: nc,
        taskQueues: [taskQueue],
        backends,
        ...(opts.stores ? { stores: opts.stores } : {}),
        deps: { heartbeatEveryMs: 500 },
        shutdownGraceTime: opts.shutdownGraceTime ?? '1s',
      });
      const worker = workers[0] as Worker;
      running.push({ worker, done: worker.run(), backends, stores, fromEnv: !opts.stores });
      return worker;
    },
    async run(input, opts = {}) {
      const result = await client.workflow.execute(experimentWorkflow, {
        taskQueue,
        workflowId: opts.workflowId ?? `test-${randomUUID()}`,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
      // ROLYPLAY_TEST_STORE=postgres: a shared store's reduce writes no files; `rolyplay run` writes them from the
      // store when the result arrives, and so does this client, in the run folder the tests read.
      const shared = running.find((r) => r.fromEnv && r.stores.shared)?.stores;
      if (shared && Object.keys(result.files).length === 0 && result.outDir) {
        const store = await shared.forRun({ run: result.run, outDir: result.outDir });
        const spec = (await store.getRun(result.run))?.spec as ExperimentSpec | undefined;
        if (spec) result.files = { ...(await taskFor(spec).report(spec, store, spec.outDir)).files, ...(await writeRunReportOrError(spec, store, spec.outDir, result.totalCells)) };
      }
      return result;
    },
    async close() {
      for (const r of running) {
        if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
        await r.done.catch(() => undefined);
        await r.backends.close();
        await r.stores.close();
      }
      for (const nc of native) await nc.close();
      await connection.close();
    },
  };
  return h;
}

/** An MMLU config for the fake OpenAI server, on the harness's own task queue. */
export function mmluConfig(opts: {
  baseURL: string;
  taskQueue: string;
  outDir: string;
  name: string;
  subjects?: string[];
  limit?: number;
  personas?: unknown[];
  mode?: 'logits' | 'generate';
  execution?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    name: opts.name,
    task: 'mmlu',
    data: { path: MMLU_DATA, subjects: opts.subjects ?? ['abstract_algebra', 'anatomy'], limit: opts.limit ?? 8 },
    personas: opts.personas ?? [{ name: 'test', personas: ['abstract algebra expert', 'anatomy expert', 'poet'] }, 'baseline'],
    groups: { neutral: [{ name: 'neutral', personas: ['poet'] }] },
    scoring: { mode: opts.mode ?? 'logits', max_tries: 10 },
    model: { backend: 'openai', model: 'test-model', base_url: opts.baseURL, api_key_env: 'TEST_OPENAI_KEY', concurrency: 4, rpm: 60000, timeout_s: 5 },
    execution: { questions_per_batch: 2, batches_per_shard: 2, shards_in_flight: 2, batches_in_flight: 2, heartbeat_s: 5, task_queue: opts.taskQueue, ...opts.execution },
    output: { dir: opts.outDir },
  };
}

/** A bandit config for the fake OpenAI server (two age personas), on the given task queue. */
export function banditConfig(opts: {
  baseURL: string;
  taskQueue: string;
  outDir: string;
  name: string;
  games: number;
  seed: number;
  trials?: number;
  execution?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    name: opts.name,
    task: 'bandit',
    games: opts.games,
    ...(opts.trials !== undefined ? { trials: opts.trials } : {}),
    seed: opts.seed,
    personas: [{ name: 'test', personas: ['4 year old', '30 year old'] }],
    model: { backend: 'openai', model: 'test-model', base_url: opts.baseURL, api_key_env: 'TEST_OPENAI_KEY', concurrency: 4, rpm: 600000, timeout_s: 5 },
    execution: { games_per_batch: 5, batches_per_shard: 2, heartbeat_s: 3, task_queue: opts.taskQueue, ...opts.execution },
    output: { dir: opts.outDir },
  };
}

/**
 * Metrics (without the run name) of an uninterrupted run of `config` on a fresh in-process worker with the default
 * SQLite store: the reference a crashed, restarted or distributed run must equal.
 */
export async function referenceMetrics(config: (taskQueue: string, outDir: string) => Record<string, unknown>): Promise<unknown> {
  const h = await harness();
  try {
    await h.startWorker();
    const outDir = tmpDir();
    const cfg = config(h.taskQueue, outDir);
    await h.run({ config: cfg });
    return await comparableMetrics(outDir, cfg.name as string);
  } finally {
    await h.close();
  }
}

/**
 * The usual test setup: a fake OpenAI server answering with `policy` (key sk-test) and an in-process worker on the
 * suite's dev server, started before the file's tests and stopped after. Read them inside tests: `env.fake`, `env.h`.
 */
export function fakeServerAndWorker(policy: Policy): { fake: FakeOpenAI; h: Harness } {
  const env = {} as { fake: FakeOpenAI; h: Harness };
  beforeAll(async () => {
    env.fake = await startFakeOpenAI({ policy, apiKey: 'sk-test' });
    env.h = await harness();
    await env.h.startWorker();
  });
  afterAll(async () => {
    await env.h?.close();
    await env.fake?.close();
  });
  return env;
}

/**
 * `fakeServerAndWorker` on a dev server of its own that suggests continue-as-new after 30 history events, so parent
 * and shard workflows continue often (tests/continue-as-new.test.ts, tests/runcontrol.can.test.ts).
 */
export function continueAsNewEnv(policy: Policy, opts: { latencyMs?: number } = {}): { fake: FakeOpenAI; h: Harness } {
  const env = {} as { fake: FakeOpenAI; h: Harness; server: DevServer };
  beforeAll(async () => {
    env.fake = await startFakeOpenAI({ policy, apiKey: 'sk-test', ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}) });
    env.server = await startDevServer({
      dbFile: join(tmpDir(), 'temporal.db'),
      headless: true,
      cli: inject('temporalCli'),
      dynamicConfig: ['limit.historyCount.suggestContinueAsNew=30'],
    });
    env.h = await harness(env.server.address);
    await env.h.startWorker();
  });
  afterAll(async () => {
    await env.h?.close();
    await env.server?.stop();
    await env.fake?.close();
  });
  return env;
}
