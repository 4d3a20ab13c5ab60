/**
 * A task defined here, in the test, with no engine file touched: its own config schema, two stages (the second
 * planned from what the first stored), task-owned records, its report. Run end to end through the dev server and a
 * worker, then with a worker process killed (-9) in the middle of stage 2 and a new one started: exact counts.
 *
 * The task is built by `defineStagedTask(api)` from the task API module only, so the very same function also runs in
 * a `rolyplay worker` child process (ROLYPLAY_TASKS loads a module that calls it), which the kill test needs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import * as api from '../tasks/api.js';
import { PACKAGE_ROOT, resolveConfig } from '../experiment/load.js';
import { withRunStore } from './support/cells.js';
import { experimentWorkflow, progressQuery } from '../workflows/index.js';
import { harness, tmpDir, type Harness } from './support/harness.js';
import { phaseLabel } from '../cli/runs.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';

type Api = typeof api;

/** The task. Uses nothing but `a` (no imports), so its source can be shipped to a worker process as is. */
function defineStagedTask(a: Api) {
  const { z } = a;
  const NAME = 'staged-test';
  const Config = z
    .object({
      task: z.literal(NAME),
      /** Items per persona in stage 1. */
      items: z.number().int().positive(),
      /** Item i is described as text-floor(i / group): stage 2 embeds each distinct text once. */
      group: z.number().int().positive().default(3),
      /** Milliseconds per unit in each stage (a slow model). */
      delay_ms: z.object({ describe: z.number().int().min(0).default(0), embed: z.number().int().min(0).default(0) }).strict().default({ describe: 0, embed: 0 }),
      ...a.commonFields('items_per_batch', 2),
    })
    .strict();
  type Cfg = import('zod').output<typeof Config>;
  interface Spec extends api.CommonSpec {
    task: typeof NAME;
    items: number;
    group: number;
    delayMs: { describe: number; embed: number };
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const q = (spec: Spec, kind: string, from?: number, to?: number) => ({ run: spec.run, task: NAME, kind, ...(from !== undefined ? { from, to } : {}) });
  /** Stage 2's units: the distinct texts stage 1 stored, sorted (known only once stage 1 has finished). */
  const texts = async (spec: Spec, store: api.ResultStore): Promise<string[]> => {
    const seen = new Set<string>();
    for await (const r of store.streamRecords(q(spec, 'description'))) seen.add((r.payload as { text: string }).text);
    return [...seen].sort();
  };
  const ranges = (spec: Spec, n: number, group: string, perUnit: number): api.PlannedBatch[] => {
    const out: api.PlannedBatch[] = [];
    for (let start = 0; start < n; start += spec.execution.unitsPerBatch) {
      const end = Math.min(n, start + spec.execution.unitsPerBatch);
      out.push({ group, start, end, cells: (end - start) * perUnit });
    }
    return out;
  };
  const count = async (spec: Spec, store: api.ResultStore) => {
    const d = (await store.countRecords(q(spec, 'description'))).records;
    const e = (await store.countRecords(q(spec, 'embedding'))).records;
    return { d, e };
  };
  const task: api.TaskDefinition<Spec, Cfg> = {
    name: NAME,
    config: Config,
    resolve(cfg, ctx) {
      const results = { items: cfg.items, group: cfg.group };
      return { ...ctx.common(cfg, results, { unitsPerBatch: cfg.execution.items_per_batch, defaultSystem: null }), ...results, delayMs: cfg.delay_ms, task: NAME };
    },
    stages: [
      {
        name: 'describe',
        plan: (spec) => ranges(spec, spec.items, 'items', spec.personas.length),
        async runBatch(ctx, b) {
          const { spec, store } = ctx;
          const done = await store.recordKeys(q(spec, 'description', b.start, b.end));
          for (let i = b.start; i < b.end; i++) {
            for (const persona of spec.personas) {
              const key = `${persona}|${i}`;
              if (done.has(key)) continue;
              await sleep(spec.delayMs.describe);
              await store.putRecords([{ run: spec.run, task: NAME, kind: 'description', key, unit: i, flag: false, payload: { persona, text: `text-${Math.floor(i / spec.group)}` } }]);
            }
            ctx.onProgress?.(i);
          }
          return { cells: (await store.countRecords(q(spec, 'description', b.start, b.end))).records, discarded: 0 };
        },
      },
      {
        name: 'embed',
        plan: async (spec, store) => ranges(spec, (await texts(spec, store)).length, 'texts', 1),
        async runBatch(ctx, b) {
          const { spec, store } = ctx;
          const all = await texts(spec, store);
          const done = await store.recordKeys(q(spec, 'embedding', b.start, b.end));
          for (let i = b.start; i < b.end; i++) {
            const text = all[i] as string;
            if (done.has(text)) continue;
            await sleep(spec.delayMs.embed);
            await store.putRecords([{ run: spec.run, task: NAME, kind: 'embedding', key: text, unit: i, flag: false, payload: { length: text.length } }]);
            ctx.onProgress?.(i);
          }
          return { cells: (await store.countRecords(q(spec, 'embedding', b.start, b.end))).records, discarded: 0 };
        },
      },
    ],
    async report(spec, store) {
      const { d, e } = await count(spec, store);
      return { cells: d + e, discarded: 0, files: {}, table: { columns: ['stage', 'records'], rows: [['describe', d], ['embed', e]] } };
    },
    async stored(spec, store) {
      const { d, e } = await count(spec, store);
      return { cells: d + e, discarded: 0 };
    },
    summary: (spec) => `${NAME} · ${spec.run} · ${spec.items} items`,
    details: (spec) => [`**Task** ${NAME}: ${spec.items} items`],
    resultFiles: { csv: 'recordsCsv', json: 'metricsJson' },
  };
  a.registerTask(task);
  return task;
}

defineStagedTask(api);

/** 2 personas × 12 items described; items 0-2 → text-0, …, 9-11 → text-3: 4 texts embedded. */
const PERSONAS = ['poet', 'judge'];
const DESCRIBED = 24;
const EMBEDDED = 4;

function config(opts: { baseURL: string; taskQueue: string; outDir: string; name: string; delay?: { describe: number; embed: number } }) {
  return {
    name: opts.name,
    task: 'staged-test',
    items: 12,
    ...(opts.delay ? { delay_ms: opts.delay } : {}),
    personas: [{ name: 'two', personas: PERSONAS }],
    model: { backend: 'openai', model: 'test-model', base_url: opts.baseURL, api_key_env: 'TEST_OPENAI_KEY', timeout_s: 5 },
    execution: { items_per_batch: 2, batches_per_shard: 2, shards_in_flight: 2, batches_in_flight: 2, heartbeat_s: 2, task_queue: opts.taskQueue },
    output: { dir: opts.outDir },
  };
}

/** The run's records and total, read from its store directly (independently of the workflow's counts). */
async function records(outDir: string, run: string): Promise<{ descriptions: string[]; embeddings: string[]; totalCells?: number }> {
  return withRunStore(outDir, run, { descriptions: [], embeddings: [] }, async (store) => {
    const keys = async (kind: string) => [...(await store.recordKeys({ run, task: 'staged-test', kind }))].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const total = (await store.getRun(run))?.totalCells;
    return { descriptions: await keys('description'), embeddings: await keys('embedding'), ...(total !== undefined ? { totalCells: total } : {}) };
  });
}

let fake: FakeOpenAI;
let h: Harness;
beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: () => ({ content: 'ok' }), apiKey: 'sk-test' });
  h = await harness();
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

describe('a task defined outside the engine', () => {
  it('is part of the config union: its own keys are checked like a built-in task\'s', () => {
    const good = config({ baseURL: 'http://localhost:1/v1', taskQueue: 'q', outDir: tmpDir(), name: 'x' });
    const err = (() => {
      try {
        resolveConfig({ ...good, itemz: 3 });
      } catch (e) {
        return e as api.InputError;
      }
      throw new Error('resolveConfig accepted an unknown key');
    })();
    expect(err).toBeInstanceOf(api.InputError);
    expect(err.message).toMatch(/remove or rename itemz/);
    expect(() => resolveConfig({ ...good, task: 'staged-tset' })).toThrow(/use one of .*"staged-test"/);
    expect(resolveConfig(good)).toMatchObject({ task: 'staged-test', items: 12, group: 3, personas: PERSONAS });
    // A second, different definition under the same name is refused.
    expect(() => api.registerTask({ ...api.taskFor({ task: 'staged-test' }) })).toThrow(/already registered/);
  });

  it('runs both stages in order through Temporal, stage 2 planned from stage 1', async () => {
    await h.startWorker();
    const outDir = tmpDir();
    const id = `staged-${randomUUID()}`;
    const result = await h.run({ config: config({ baseURL: fake.baseURL, taskQueue: h.taskQueue, outDir, name: 'staged' }) }, { workflowId: id });
    expect(result.task).toBe('staged-test');
    expect(result.cells).toBe(DESCRIBED + EMBEDDED);
    expect(result.totalCells).toBe(DESCRIBED + EMBEDDED);
    expect(result.table.rows).toEqual([['describe', DESCRIBED], ['embed', EMBEDDED]]);
    const r = await records(outDir, 'staged');
    expect(r.descriptions).toHaveLength(DESCRIBED);
    expect(r.embeddings).toEqual(['text-0', 'text-1', 'text-2', 'text-3']);
    expect(r.totalCells).toBe(DESCRIBED + EMBEDDED);
    const p = await h.client.workflow.getHandle(id).query(progressQuery);
    expect(p).toMatchObject({ phase: 'done', done: DESCRIBED + EMBEDDED, total: DESCRIBED + EMBEDDED, stage: 'embed' });
    expect(p.stages).toEqual([{ name: 'describe', done: DESCRIBED, total: DESCRIBED }, { name: 'embed', done: EMBEDDED, total: EMBEDDED }]);
    // Stage 1: 6 batches in 3 shards, with the ids shards always had; stage 2: 2 batches in 1 shard of its own.
    const exists = (wid: string) => h.client.workflow.getHandle(wid).describe().then(() => true, () => false);
    expect(await Promise.all([`${id}/shard-2`, `${id}/shard-3`, `${id}/stage-1/shard-0`, `${id}/stage-1/shard-1`].map(exists))).toEqual([true, false, true, false]);
  });
});

describe('kill -9 of the worker mid-stage 2', () => {
  function spawnWorker(address: string, taskQueue: string, module: string): ChildProcess {
    return spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'), 'worker', '--task-queue', taskQueue], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEST_OPENAI_KEY: 'sk-test', ROLYPLAY_TASKS: module },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  it('resumes stage 2 on a new worker process: every record exactly once', async () => {
    // The worker process gets the same task: this file's defineStagedTask, on the compiled task API.
    const dir = tmpDir();
    const module = join(dir, 'staged-task.mjs');
    writeFileSync(module, `import * as api from ${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'dist', 'tasks', 'api.js')).href)};\n(${defineStagedTask.toString()})(api);\n`);
    const address = inject('temporalAddress');
    const taskQueue = `staged-crash-${randomUUID()}`;
    const outDir = tmpDir();
    let worker = spawnWorker(address, taskQueue, module);
    try {
      const handle = await h.client.workflow.start(experimentWorkflow, {
        taskQueue,
        workflowId: `staged-crash-${randomUUID()}`,
        args: [{ config: config({ baseURL: fake.baseURL, taskQueue, outDir, name: 'crash', delay: { describe: 0, embed: 1500 } }) }],
      });
      // Mid stage 2: every description stored, some embeddings but not all.
      const end = Date.now() + 60_000;
      let seen = await records(outDir, 'crash');
      for (;;) {
        seen = await records(outDir, 'crash');
        if (seen.embeddings.length > 0) break;
        if (Date.now() > end) throw new Error(`stage 2 did not start: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The CLI's progress line names the stage (the total already includes stage 2's cells).
      const live = await handle.query(progressQuery);
      expect(phaseLabel(live)).toMatch(/^scoring · stage 2\/2 embed \d\/4$/);
      expect(live.total).toBe(DESCRIBED + EMBEDDED);
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      const before = await records(outDir, 'crash');
      expect(before.descriptions).toHaveLength(DESCRIBED);
      expect(before.embeddings.length).toBeGreaterThan(0);
      expect(before.embeddings.length).toBeLessThan(EMBEDDED);
      worker = spawnWorker(address, taskQueue, module);
      const result = await handle.result();
      expect(result.cells).toBe(DESCRIBED + EMBEDDED);
      expect(result.totalCells).toBe(DESCRIBED + EMBEDDED);
      const after = await records(outDir, 'crash');
      expect(after.descriptions).toHaveLength(DESCRIBED);
      expect(new Set(after.descriptions).size).toBe(DESCRIBED);
      expect(after.embeddings).toEqual(['text-0', 'text-1', 'text-2', 'text-3']);
      const p = await handle.query(progressQuery);
      expect(p.stages).toEqual([{ name: 'describe', done: DESCRIBED, total: DESCRIBED }, { name: 'embed', done: EMBEDDED, total: EMBEDDED }]);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});

describe('continue-as-new between and within stages', () => {
  it('keeps the stage, its plan and the counts across continue-as-new', async () => {
    const { startDevServer } = await import('../server/devServer.js');
    const server = await startDevServer({ dbFile: join(tmpDir(), 'temporal.db'), headless: true, cli: inject('temporalCli'), dynamicConfig: ['limit.historyCount.suggestContinueAsNew=20'] });
    const hc = await harness(server.address);
    try {
      await hc.startWorker();
      const outDir = tmpDir();
      const id = `staged-can-${randomUUID()}`;
      const result = await hc.run({ config: config({ baseURL: fake.baseURL, taskQueue: hc.taskQueue, outDir, name: 'can' }) }, { workflowId: id });
      expect(result.cells).toBe(DESCRIBED + EMBEDDED);
      expect(result.totalCells).toBe(DESCRIBED + EMBEDDED);
      const r = await records(outDir, 'can');
      expect(r.descriptions).toHaveLength(DESCRIBED);
      expect(r.embeddings).toEqual(['text-0', 'text-1', 'text-2', 'text-3']);
      // It did continue as new (else this test proves nothing), and the last run still reports both stages.
      const handle = hc.client.workflow.getHandle(id);
      const d = await handle.describe();
      expect(d.runId).not.toBe(d.raw.workflowExecutionInfo?.firstRunId);
      const p = await handle.query(progressQuery);
      expect(p.stages).toEqual([{ name: 'describe', done: DESCRIBED, total: DESCRIBED }, { name: 'embed', done: EMBEDDED, total: EMBEDDED }]);
    } finally {
      await hc.close();
      await server.stop();
    }
  });
});
