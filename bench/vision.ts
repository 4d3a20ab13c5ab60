/**
 * The vision task's stages timed in-process (no Temporal: the task's own work, the same plan/runBatch the activities
 * call), on a fresh store and a fresh cache folder so every image is embedded: seconds and share per stage, and
 * images/s of the image stage on this CPU.
 *
 *   node dist/bench/vision.js [configs/vl-demo.yaml] [key=value overrides...]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../tasks/index.js';
import { BackendRegistry } from '../backends/registry.js';
import { loadExperimentOnline, PACKAGE_ROOT } from '../experiment/load.js';
import { SqliteStore } from '../store/results.js';
import { visionTask } from '../tasks/vision/task.js';
import type { VisionSpec } from '../tasks/vision/config.js';
import { datasetOf } from '../tasks/vision/runner.js';

const [file = join(PACKAGE_ROOT, 'configs', 'vl-demo.yaml'), ...overrides] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'rolyplay-bench-vision-'));
const spec = (await loadExperimentOnline(file, [`output.dir=${dir}`, `cache_dir=${join(dir, 'cache')}`, ...overrides])) as VisionSpec;
const store = new SqliteStore(join(dir, 'results.sqlite'));
const registry = new BackendRegistry();
const models = spec.models ?? { llm: spec.model };
const t0 = performance.now();
const backend = () => registry.llm(spec.model, spec.format);
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
console.log(`${spec.run}: ${spec.personas.length} personas, ${images} images; models ${Object.entries(models).map(([r, m]) => `${r}=${'path' in m ? m.path : m.backend}`).join(' ')}; loading ${loadS.toFixed(2)} s`);
console.table(rows.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(3)), share: `${((100 * r.seconds) / total).toFixed(1)} %` })));
const img = rows.find((r) => r.stage === 'embed_images')!;
console.log(`embed_images: ${(images / img.seconds).toFixed(1)} images/s (decode + preprocess + vision model, ${spec.embedding.imagesPerBatch} per batch)`);
await registry.close();
await store.close();
