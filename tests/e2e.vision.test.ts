/**
 * The vision task on the full Temporal path: the OpenAI-compatible test server writes the descriptions (real HTTP,
 * every call counted), the tiny random-weight CLIP fixture embeds texts and images (real onnxruntime sessions).
 *
 * - exact counts per stage, and metrics.json equal to a recomputation from the stored embeddings (SQLite read
 *   directly, image vectors read from the cache files, cosine argmax done here);
 * - the caches across runs: another LLM re-scores without one new image embedding; another CLIP without one LLM call;
 * - kill -9 of a worker process mid-describe: the new worker asks no stored call again, metrics equal a clean run;
 * - bad input (missing data folder, a class without test images) fails before anything runs, naming file and field;
 * - `rolyplay run configs/vl-demo.yaml --headless` through the CLI: exit 0 and a report.html.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'yaml';
import { startFakeOpenAI, type ChatRequest, type FakeOpenAI } from './support/fakeOpenAI.js';
import { harness, tmpDir, type Harness } from './support/harness.js';
import { comparableMetrics, storedRecords } from './support/cells.js';
import { TINY_CLIP, tinyClipOrFail } from './support/clipFixtures.js';
import { cliEnv, runCli } from './support/cli.js';
import { PACKAGE_ROOT, resolveConfig, loadExperiment } from '../experiment/load.js';
import { InputError } from '../experiment/errors.js';
import { experimentWorkflow } from '../workflows/index.js';
import { createHash } from 'node:crypto';
import { cellSeed, type SeedPurpose } from '../tasks/vision/seeds.js';

const TOY = join(import.meta.dirname, 'fixtures', 'toy-cub');
const PERSONAS = ['man', 'woman', 'none', 'class_name'];
const CLASSES = 5;
const IMAGES = 15; // 3 test images per class
const LLM_PERSONAS = 3; // class_name needs no call
const DESCRIBE_CALLS = LLM_PERSONAS * CLASSES;
const CLEAN_CALLS = CLASSES; // "man" names the class in a sentence the manual pass cannot fix
const CELLS = PERSONAS.length * CLASSES;
/**
 * Distinct CLIP texts: man's 5 cleaned descriptions are one text, woman's Tabby Cat and Astronaut one (same name
 * length), none's 5 and class_name's 5 differ: 1 + 4 + 5 + 5.
 */
const TEXTS = 15;
const TOTAL = CELLS + TEXTS + IMAGES + PERSONAS.length * IMAGES;

/** The test LLM: "man" names the class (lower-cased: the manual cleaning misses it), "woman" rambles past 77 tokens. */
function policy(req: ChatRequest) {
  const user = String(req.messages.at(-1)?.content ?? '');
  if (user.startsWith('Replace the concept')) return { content: ' I once saw one near home.\n\nSentence: x' };
  const cls = /What is an (.*)\?/.exec(user)?.[1] ?? '?';
  const who = /If you were a (.*?), how/.exec(user)?.[1] ?? 'nobody';
  if (who === 'man') return { content: `a thing. I once saw a ${cls.toLowerCase()} near home. Q: more` };
  if (who === 'woman') return { content: `a thing with ${Array.from({ length: 40 }, (_, i) => `colour${i} ${cls.length}`).join(' and ')}.` };
  return { content: `a ${who} thing number ${cls.length} with ${cls.split(' ')[0]!.length} marks.` };
}

function visionConfig(o: { name: string; outDir: string; cacheDir: string; taskQueue: string; llmModel?: string; clipPath?: string; data?: unknown; delayBatch?: number }) {
  return {
    name: o.name,
    task: 'vision',
    data: o.data ?? { dataset: 'cub', path: TOY },
    personas: [{ name: 'test', personas: PERSONAS }],
    describe: { max_tokens: 24 },
    statistics: { resamples: 200, permutations: 500 },
    models: {
      llm: { backend: 'openai', model: o.llmModel ?? 'test-model', base_url: fake.baseURL, api_key_env: 'TEST_OPENAI_KEY', concurrency: 2, timeout_s: 5 },
      clip: { backend: 'clip', path: o.clipPath ?? TINY_CLIP },
    },
    embedding: { texts_per_batch: 8, images_per_batch: 4 },
    cache_dir: o.cacheDir,
    execution: { cells_per_batch: o.delayBatch ?? 3, batches_per_shard: 2, shards_in_flight: 2, batches_in_flight: 2, heartbeat_s: 3, task_queue: o.taskQueue },
    output: { dir: o.outDir },
  };
}

interface Rec { kind: string; key: string; unit: number; flag: number; payload: string }
/** The run's records, from the store its workers use (tests/support/cells.ts). */
async function recordsOf(outDir: string, run: string): Promise<Rec[]> {
  const recs = await storedRecords(outDir, run, 'vision', ['call', 'description', 'text', 'image', 'prediction']);
  return recs.map((r) => ({ kind: r.kind, key: r.key, unit: r.unit, flag: r.flag ? 1 : 0, payload: JSON.stringify(r.payload) }));
}
const byKind = (recs: Rec[], kind: string) => recs.filter((r) => r.kind === kind);
const metricsOf = (outDir: string, run: string) => JSON.parse(readFileSync(join(outDir, run, 'metrics.json'), 'utf8'));
/** The LLM calls of the describe stage (every one carries its seed; planning's preflight is a 1-token "ping"). */
const llmCalls = () => fake.calls.filter((c) => c.key !== 'ping');
const describeCalls = () => llmCalls().filter((c) => !c.key.startsWith('Replace the concept')).length;
const cleanCalls = () => llmCalls().filter((c) => c.key.startsWith('Replace the concept')).length;
/** Image cache files (name → mtime) under a cache folder. */
function imageFiles(cacheDir: string): Map<string, number> {
  const out = new Map<string, number>();
  const root = join(cacheDir, 'images');
  if (!existsSync(root)) return out;
  for (const k of readdirSync(root)) for (const f of readdirSync(join(root, k))) if (f.endsWith('.f32')) out.set(`${k}/${f}`, statSync(join(root, k, f)).mtimeMs);
  return out;
}

let fake: FakeOpenAI;
let h: Harness;
beforeAll(async () => {
  tinyClipOrFail();
  fake = await startFakeOpenAI({ policy, apiKey: 'sk-test' });
  h = await harness();
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

describe('vision end to end', () => {
  const outDir = tmpDir();
  const cacheDir = tmpDir();

  it('runs describe → embed_text → embed_images → score with exact counts; metrics match a recomputation', async () => {
    fake.reset();
    const id = `vision-${randomUUID()}`;
    const result = await h.run({ config: visionConfig({ name: 'vl', outDir, cacheDir, taskQueue: h.taskQueue }) }, { workflowId: id });
    expect(result.task).toBe('vision');
    expect(result.totalCells).toBe(TOTAL);
    expect(result.cells).toBe(TOTAL);
    expect([describeCalls(), cleanCalls()]).toEqual([DESCRIBE_CALLS, CLEAN_CALLS]);
    const p = await h.client.workflow.getHandle(id).query('progress');
    expect((p as { stages: unknown }).stages).toEqual([
      { name: 'describe', done: CELLS, total: CELLS },
      { name: 'embed_text', done: TEXTS, total: TEXTS },
      { name: 'embed_images', done: IMAGES, total: IMAGES },
      { name: 'score', done: PERSONAS.length * IMAGES, total: PERSONAS.length * IMAGES },
    ]);

    const recs = await recordsOf(outDir, 'vl');
    expect(byKind(recs, 'call')).toHaveLength(DESCRIBE_CALLS + CLEAN_CALLS);
    expect(byKind(recs, 'description')).toHaveLength(CELLS);
    expect(byKind(recs, 'text')).toHaveLength(TEXTS);
    expect(byKind(recs, 'prediction')).toHaveLength(PERSONAS.length);
    const descs = byKind(recs, 'description').map((r) => JSON.parse(r.payload));
    expect(descs.find((d) => d.persona === 'man' && d.className === 'Tabby Cat').description).toBe('a thing. I once saw one near home.');
    expect(descs.find((d) => d.persona === 'class_name' && d.className === 'Astronaut')).toMatchObject({ raw: null, description: 'Astronaut' });

    // Recompute from what is stored: text vectors (SQLite), image vectors (cache files), labels (the CUB index files).
    const texts = new Map(byKind(recs, 'text').map((r) => [r.key, JSON.parse(r.payload) as { vector: number[]; truncated: boolean }]));
    const [cacheKey] = readdirSync(join(cacheDir, 'images'));
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const cub = join(TOY, 'CUB_200_2011');
    const rows = (f: string) => readFileSync(join(cub, f), 'utf8').trim().split('\n').map((l) => l.split(' '));
    const test = new Set(rows('train_test_split.txt').filter(([, t]) => t === '0').map(([i]) => i));
    const label = new Map(rows('image_class_labels.txt').map(([i, c]) => [i, Number(c) - 1]));
    const testIds = rows('images.txt').map(([i]) => i!).filter((i) => test.has(i));
    expect(testIds).toHaveLength(IMAGES);
    const metrics = metricsOf(outDir, 'vl');
    expect(metrics.class_names).toEqual(['Tabby Cat', 'Coffee Cup', 'Astronaut', 'Rocket Launch', 'Horse Silhouette']);
    for (const persona of PERSONAS) {
      const classTexts = metrics.class_names.map((c: string) => {
        const d = descs.find((x) => x.persona === persona && x.className === c);
        return texts.get(sha(`A photo of ${d.description}`))!;
      });
      let correct = 0;
      for (const id of testIds) {
        const b = readFileSync(join(cacheDir, 'images', cacheKey!, `${sha(id)}.f32`));
        const img = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        const scores = classTexts.map((t: { vector: number[] }) => {
          const n = Math.hypot(...t.vector);
          return t.vector.reduce((a, x, k) => a + (x / n) * img[k]!, 0);
        });
        if (scores.indexOf(Math.max(...scores)) === label.get(id)) correct++;
      }
      expect(metrics.personas[persona].correct, persona).toBe(correct);
      expect(metrics.personas[persona].accuracy, persona).toBeCloseTo(correct / IMAGES, 12);
      const cut = classTexts.filter((t: { truncated: boolean }) => t.truncated).length / CLASSES;
      expect(metrics.personas[persona].cut_fraction, persona).toBe(cut);
    }
    // "woman" rambles: every text cut (the seed's truncation); the others fit.
    expect(metrics.personas.woman.cut_fraction).toBe(1);
    expect(metrics.personas.man.cut_fraction).toBe(0);
    expect(metrics.run).toMatchObject({ images_embedded: IMAGES, images_from_cache: 0 });
    const csv = parseCsv(readFileSync(join(outDir, 'vl', 'results.csv'), 'utf8'), { columns: true }) as { persona: string; correct: string }[];
    expect(csv).toHaveLength(PERSONAS.length * IMAGES);
    expect(csv.filter((r) => r.persona === 'none' && r.correct === '1').length).toBe(metrics.personas.none.correct);
    expect(existsSync(join(outDir, 'vl', 'report.html'))).toBe(true);
  });

  it('another LLM re-scores without re-embedding an image', async () => {
    const before = imageFiles(cacheDir);
    expect(before.size).toBe(IMAGES);
    fake.reset();
    await h.run({ config: visionConfig({ name: 'vl-llm2', outDir, cacheDir, taskQueue: h.taskQueue, llmModel: 'other-model' }) });
    expect([describeCalls(), cleanCalls()]).toEqual([DESCRIBE_CALLS, CLEAN_CALLS]);
    expect(metricsOf(outDir, 'vl-llm2').run).toMatchObject({ images_embedded: 0, images_from_cache: IMAGES });
    expect(imageFiles(cacheDir)).toEqual(before); // not one cache file written again
  });

  it('another CLIP re-scores without asking the LLM once', async () => {
    const otherClip = join(tmpDir(), 'tiny-clip-copy');
    cpSync(TINY_CLIP, otherClip, { recursive: true, filter: (s) => !s.includes('/images') && !s.includes('/pixels') });
    fake.reset();
    await h.run({ config: visionConfig({ name: 'vl-clip2', outDir, cacheDir, taskQueue: h.taskQueue, clipPath: otherClip }) });
    expect(fake.calls.map((c) => c.key)).toEqual(['ping']); // the preflight only
    const m = metricsOf(outDir, 'vl-clip2');
    expect(m.run).toMatchObject({ images_embedded: IMAGES, images_from_cache: 0 });
    expect(imageFiles(cacheDir).size).toBe(2 * IMAGES); // a cache of its own
    // Same weights, same descriptions: the same predictions as the first run.
    expect(m.personas).toEqual(metricsOf(outDir, 'vl').personas);
  });
});

describe('bad input fails before anything runs', () => {
  it('a missing data folder and a class without test images name the file, the field and the fix', async () => {
    const dir = tmpDir();
    const file = join(dir, 'vl-bad.yaml');
    writeFileSync(file, stringify({ ...visionConfig({ name: 'bad', outDir: dir, cacheDir: dir, taskQueue: 'q', data: { dataset: 'cub', path: 'no-such-cub' } }) }));
    const err = (() => {
      try {
        loadExperiment(file);
      } catch (e) {
        return e as InputError;
      }
      throw new Error('accepted a missing data folder');
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`${file}: data.path: CUB folder ${join(dir, 'no-such-cub')} does not exist. Fix: point data.path at the folder that holds CUB_200_2011/`);

    // Astronaut (class 3) gets no test image: every one of its images marked as training.
    const cub = join(tmpDir(), 'cub');
    cpSync(TOY, cub, { recursive: true });
    const labels = new Map(readFileSync(join(cub, 'CUB_200_2011', 'image_class_labels.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
    const split = join(cub, 'CUB_200_2011', 'train_test_split.txt');
    writeFileSync(split, readFileSync(split, 'utf8').trim().split('\n').map((l) => { const [i] = l.split(' '); return `${i} ${labels.get(i!) === '3' ? 1 : l.split(' ')[1]}`; }).join('\n') + '\n');
    expect(() => resolveConfig(visionConfig({ name: 'bad2', outDir: dir, cacheDir: dir, taskQueue: 'q', data: { dataset: 'cub', path: cub } }))).toThrow(/data\.path: classes 3 have no test images in .*Fix: /);
    // Through the workflow: a non-retryable failure within seconds, not a retry loop.
    const t0 = Date.now();
    await expect(h.run({ config: visionConfig({ name: 'bad3', outDir: dir, cacheDir: dir, taskQueue: h.taskQueue, data: { dataset: 'cub', path: join(dir, 'nope') } }) })).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('kill -9 of the worker mid-describe', () => {
  function spawnWorker(address: string, taskQueue: string): ChildProcess {
    return spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'), 'worker', '--task-queue', taskQueue], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEST_OPENAI_KEY: 'sk-test' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  it('resumes on a new worker process: no stored call asked again, metrics equal an uninterrupted run', async () => {
    const address = inject('temporalAddress');
    const taskQueue = `vision-crash-${randomUUID()}`;
    const outDir = tmpDir();
    const cacheDir = tmpDir();
    fake.reset();
    fake.setLatency(150);
    let worker = spawnWorker(address, taskQueue);
    try {
      const handle = await h.client.workflow.start(experimentWorkflow, {
        taskQueue,
        workflowId: `vision-crash-${randomUUID()}`,
        args: [{ config: visionConfig({ name: 'crash', outDir, cacheDir, taskQueue, delayBatch: 2 }) }],
      });
      const end = Date.now() + 90_000;
      for (;;) {
        const n = byKind((await recordsOf(outDir, 'crash')), 'description').length;
        if (n >= 4) break;
        if (Date.now() > end) throw new Error('describe did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      const stored = byKind((await recordsOf(outDir, 'crash')), 'call').map((r) => r.key);
      expect(stored.length).toBeGreaterThan(0);
      expect(byKind((await recordsOf(outDir, 'crash')), 'description').length).toBeLessThan(CELLS);
      // A call's seed is a function of its id (tasks/vision/seeds.ts): the seeds of the stored calls.
      const storedSeeds = new Set(stored.map((id) => {
        const [purpose, persona, className, r] = id.split('/') as [SeedPurpose, string, string, string];
        return cellSeed({ runSeed: 2016, persona, className, purpose, replicate: Number(r.slice(1)) });
      }));
      const before = fake.calls.length;
      const askedBefore = new Set(llmCalls().map((c) => c.body.seed));
      worker = spawnWorker(address, taskQueue);
      const result = await handle.result();
      expect(result.cells).toBe(TOTAL);
      const after = fake.calls.slice(before).filter((c) => c.key !== 'ping');
      expect(after.filter((c) => storedSeeds.has(c.body.seed!))).toEqual([]);
      // Only calls in flight at the kill (asked, never stored) are asked twice.
      const twice = after.filter((c) => askedBefore.has(c.body.seed));
      expect(twice.every((c) => !storedSeeds.has(c.body.seed!))).toBe(true);
      expect(llmCalls().every((c) => Number.isInteger(c.body.seed))).toBe(true);
      expect(new Set(llmCalls().map((c) => c.body.seed)).size).toBe(DESCRIBE_CALLS + CLEAN_CALLS);
      expect(llmCalls().length).toBe(DESCRIBE_CALLS + CLEAN_CALLS + twice.length);
      const recs = await recordsOf(outDir, 'crash');
      expect(byKind(recs, 'call')).toHaveLength(DESCRIBE_CALLS + CLEAN_CALLS);
      expect(byKind(recs, 'description')).toHaveLength(CELLS);
      expect(byKind(recs, 'text')).toHaveLength(TEXTS);
      expect(byKind(recs, 'prediction')).toHaveLength(PERSONAS.length);
    } finally {
      worker.kill('SIGKILL');
      fake.setLatency(0);
    }
    // The same metrics as the uninterrupted run of the first describe block (same LLM answers, same CLIP).
    const clean = tmpDir();
    // Its own name: with a shared store (ROLYPLAY_TEST_STORE=postgres) a second run named 'crash' would be that run.
    await h.run({ config: visionConfig({ name: 'crash-clean', outDir: clean, cacheDir: tmpDir(), taskQueue: h.taskQueue, delayBatch: 2 }) });
    expect(await comparableMetrics(outDir, 'crash')).toEqual(await comparableMetrics(clean, 'crash-clean'));
  });
});

describe('kill -9 of the worker mid-embed_images', () => {
  it('resumes: batches stored before the kill are not embedded again, no LLM call repeated, metrics equal a clean run', async () => {
    // A folder set big enough to be caught mid-stage: the toy photos, 12 copies each (5 classes × 48 images).
    const data = join(tmpDir(), 'folder');
    const src = join(TOY, 'CUB_200_2011', 'images');
    for (const cls of readdirSync(src)) {
      const name = cls.replace(/^\d+\./, '').replaceAll('_', ' ');
      for (const f of readdirSync(join(src, cls))) for (let k = 0; k < 12; k++) cpSync(join(src, cls, f), join(data, name, `${k}-${f}`));
    }
    const n = 5 * 4 * 12;
    const address = inject('temporalAddress');
    const taskQueue = `vision-crash-embed-${randomUUID()}`;
    const outDir = tmpDir();
    const cacheDir = tmpDir();
    const cfg = (o: { outDir: string; cacheDir: string; taskQueue: string; name?: string }) => ({
      ...visionConfig({ name: 'crash-embed', ...o, data: { dataset: 'folder', path: data } }),
      embedding: { texts_per_batch: 8, images_per_batch: 4 },
    });
    fake.reset();
    const spawnWorker = () => spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'), 'worker', '--task-queue', taskQueue], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEST_OPENAI_KEY: 'sk-test' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let worker = spawnWorker();
    try {
      const handle = await h.client.workflow.start(experimentWorkflow, { taskQueue, workflowId: `vision-crash-embed-${randomUUID()}`, args: [{ config: cfg({ outDir, cacheDir, taskQueue }) }] });
      const end = Date.now() + 90_000;
      for (;;) {
        if (byKind((await recordsOf(outDir, 'crash-embed')), 'image').length >= 3) break;
        if (Date.now() > end) throw new Error('embed_images did not start');
        await new Promise((r) => setTimeout(r, 20));
      }
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      const before = byKind((await recordsOf(outDir, 'crash-embed')), 'image');
      expect(before.length).toBeLessThan(n / 4); // mid-stage
      expect(byKind((await recordsOf(outDir, 'crash-embed')), 'prediction')).toHaveLength(0);
      const filesBefore = imageFiles(cacheDir);
      const callsBefore = llmCalls().length;
      expect(callsBefore).toBe(DESCRIBE_CALLS + CLEAN_CALLS); // describe finished before the kill
      worker = spawnWorker();
      const result = await handle.result();
      expect(result.cells).toBe(CELLS + TEXTS + n + PERSONAS.length * n);
      expect(llmCalls()).toHaveLength(callsBefore); // not one LLM call after the kill
      const after = byKind((await recordsOf(outDir, 'crash-embed')), 'image');
      expect(after).toHaveLength(n / 4);
      // The batches stored before the kill were skipped: same records, their cache files untouched.
      for (const r of before) expect(after.find((a) => a.key === r.key)).toEqual(r);
      const filesAfter = imageFiles(cacheDir);
      expect(filesAfter.size).toBe(n);
      for (const [f, t] of filesBefore) expect(filesAfter.get(f), f).toBe(t);
      const sums = after.map((r) => JSON.parse(r.payload) as { embedded: number; cached: number }).reduce((a, b) => a + b.embedded + b.cached, 0);
      expect(sums).toBe(n);
    } finally {
      worker.kill('SIGKILL');
    }
    const clean = tmpDir();
    await h.run({ config: cfg({ outDir: clean, cacheDir: tmpDir(), taskQueue: h.taskQueue, name: 'crash-embed-clean' }) });
    expect(await comparableMetrics(outDir, 'crash-embed')).toEqual(await comparableMetrics(clean, 'crash-embed-clean'));
  });
});

describe('the CLI', () => {
  it('runs configs/vl-demo.yaml --headless: exit 0 and a report.html', async () => {
    const dir = tmpDir();
    const r = await runCli(['run', join(PACKAGE_ROOT, 'configs', 'vl-demo.yaml'), '--headless', `output.dir=${join(dir, 'runs')}`, `cache_dir=${join(dir, 'cache')}`], dir, cliEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/class_name: accuracy \d\.\d{3} \[[\d.]+, [\d.]+\] \(Wilson 95%; \[[\d.]+, [\d.]+\] over classes\), texts cut 0\.000/);
    expect(r.stdout + r.stderr).toMatch(/bias man − woman: [+-]\d\.\d{3} \[[-\d.]+, [-\d.]+\] \(95% over classes\), permutation Holm p /);
    expect(existsSync(join(dir, 'runs', 'vl-demo', 'report.html'))).toBe(true);
    const m = metricsOf(join(dir, 'runs'), 'vl-demo');
    expect(Object.keys(m.personas)).toEqual(['man', 'woman', 'ornithologist', 'car mechanic', 'none', 'class_name']);
    expect(m.n_images).toBe(IMAGES);
  }, 240_000);
});
