/**
 * The vision task on this CPU, in two parts:
 *  1. CLIP stage speed (bench/clip.ts): images/s of the image stage (decode + preprocess + model, and the model alone)
 *     per batch size and thread count, texts/s of the text stage.
 *  2. The task's stages timed in-process on a vl-demo-like run (no Temporal: the task's own work, the same
 *     plan/runBatch the activities call), on a fresh store and a fresh cache folder so every image is embedded:
 *     seconds and share per stage, with the config's local LLM for describe.
 * The CLIP is BENCH_CLIP, by default the random-weight ViT-B/32 fixture (bash scripts/make-fixtures.sh --bench), else
 * the tiny CLIP (said loudly: its figures say nothing about ViT-B/32). Prints markdown tables.
 *
 *   node dist/bench/vision.js [configs/vl-demo.yaml] [key=value overrides...]
 *   env: BENCH_CLIP=<folder>  BENCH_IMAGES=32  BENCH_BATCHES=1,8,16,32  BENCH_THREADS=1,2  BENCH_REPS=1  BENCH_SKIP_CLIP=1 (part 2 only)
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import '../tasks/index.js';
import { BackendRegistry } from '../backends/registry.js';
import { loadExperimentOnline, PACKAGE_ROOT } from '../experiment/load.js';
import { SqliteStore } from '../store/results.js';
import { visionTask } from '../tasks/vision/task.js';
import type { VisionSpec } from '../tasks/vision/config.js';
import { datasetOf } from '../tasks/vision/runner.js';
import { clipBench } from './clip.js';

const [file = join(PACKAGE_ROOT, 'configs', 'vl-demo.yaml'), ...overrides] = process.argv.slice(2);
const vitb32 = join(PACKAGE_ROOT, '.cache', 'fixtures', 'bench-clip-vitb32');
const tiny = join(PACKAGE_ROOT, '.cache', 'fixtures', 'tiny-clip');
const clipDir = process.env.BENCH_CLIP ?? (existsSync(join(vitb32, 'onnx', 'vision_model.onnx')) ? vitb32 : tiny);
if (clipDir === tiny) console.warn(`WARNING: ${vitb32} is missing (bash scripts/make-fixtures.sh --bench): timing the TINY CLIP, not ViT-B/32`);
const list = (v: string | undefined, d: string) => (v ?? d).split(',').map((s) => s.trim());
const nImages = Number(process.env.BENCH_IMAGES ?? 32);
const batches = list(process.env.BENCH_BATCHES, '1,8,16,32').map(Number);
const threads = list(process.env.BENCH_THREADS, '1,2');
const reps = Number(process.env.BENCH_REPS ?? 1);

// The toy CUB photos, repeated up to BENCH_IMAGES.
const imgRoot = join(PACKAGE_ROOT, 'tests', 'fixtures', 'toy-cub', 'CUB_200_2011', 'images');
const photos = readdirSync(imgRoot).flatMap((c) => readdirSync(join(imgRoot, c)).map((f) => join(imgRoot, c, f))).sort();
const files = Array.from({ length: nImages }, (_, i) => photos[i % photos.length]!);
// Descriptions as describe writes them (max_tokens 24), behind the task's "A photo of " prefix.
const texts = Array.from({ length: 64 }, (_, i) =>
  `A photo of It is a ${['small', 'large', 'slender', 'plump'][i % 4]} bird with a ${['short conical', 'long hooked', 'thin pointed', 'broad flat'][i % 4]} beak, ` +
  `${['bright yellow', 'dark brown', 'white', 'grey and black'][(i >> 2) % 4]} feathers and a ${['long', 'short', 'forked', 'rounded'][(i >> 4) % 4]} tail.`,
);

const load = () => `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;
if (!process.env.BENCH_SKIP_CLIP) {
  console.log(`## CLIP stages: ${clipDir}; ${nImages} images (toy-cub photos), ${texts.length} texts; best of ${reps}; ${load()}`);
  console.log('\n| measure | batch | intra-op threads | per second | ms each |\n|---|---:|---:|---:|---:|');
  const { decodeMs, preprocessMs } = await clipBench({
    dir: clipDir, files, texts, batches, threads, reps,
    onRow: (r) => console.log(`| ${r.measure} | ${r.batch} | ${r.threads} | ${r.perSec.toFixed(1)} | ${(1000 / r.perSec).toFixed(1)} |`),
  });
  console.log(`\ndecode ${decodeMs.toFixed(1)} ms/image, preprocess (bicubic resize + crop + normalise) ${preprocessMs.toFixed(1)} ms/image, one thread`);
}

// 2. The stages of a vl-demo-like run.
const dir = mkdtempSync(join(tmpdir(), 'rolyplay-bench-vision-'));
const spec = (await loadExperimentOnline(file, [
  `output.dir=${dir}`,
  `cache_dir=${join(dir, 'cache')}`,
  `models.clip={backend: clip, path: ${JSON.stringify(clipDir)}}`,
  ...overrides,
])) as VisionSpec;
const store = new SqliteStore(join(dir, 'results.sqlite'));
const registry = new BackendRegistry();
const models = spec.models ?? { llm: spec.model };
const t0 = performance.now();
const backend = await registry.llm(spec.model, spec.format);
const clip = await registry.get(models.clip!, spec.format);
const loadS = (performance.now() - t0) / 1000;
const rows: { stage: string; batches: number; cells: number; seconds: number }[] = [];
for (const stage of visionTask.stages) {
  const s0 = performance.now();
  const batches = await stage.plan(spec, store);
  let cells = 0;
  for (const b of batches) cells += (await stage.runBatch({ spec, backend, store, model: async (role) => (role === 'clip' ? clip : registry.get(models[role]!, spec.format)) }, b)).cells;
  rows.push({ stage: stage.name, batches: batches.length, cells, seconds: (performance.now() - s0) / 1000 });
}
const total = rows.reduce((a, r) => a + r.seconds, 0);
const images = (await datasetOf(spec)).items.length;
const named = Object.entries(models).map(([r, m]) => `${r}=${'path' in m ? `${m.path}${'variant' in m ? ` (${m.variant})` : ''}` : m.backend}`).join(', ');
console.log(`\n## ${spec.run} stages: ${spec.personas.length} personas, ${images} images, describe max_tokens ${spec.describe.maxTokens}; models ${named}; loading ${loadS.toFixed(2)} s; ${load()}`);
console.log('\n| stage | batches | cells | seconds | share |\n|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.stage} | ${r.batches} | ${r.cells} | ${r.seconds.toFixed(2)} | ${((100 * r.seconds) / total).toFixed(1)} % |`);
const img = rows.find((r) => r.stage === 'embed_images')!;
console.log(`\nembed_images: ${(images / img.seconds).toFixed(1)} images/s (${images} images: decode + preprocess + vision model, ${spec.embedding.imagesPerBatch} per batch)`);
console.log(`command: npm run build && node dist/bench/vision.js ${process.argv.slice(2).join(' ')}`.trimEnd());
await registry.close();
await store.close();
