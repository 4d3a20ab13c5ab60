/**
 * `npm run bench`: the engine's overhead (plain loop vs Temporal, instant backend; PostgreSQL vs SQLite store), local inference speed
 * (one prompt at a time / batched / batched with prefix reuse), how far the int8 and w8 SmolLM2 exports move MMLU persona
 * scores from the fp32 one (bench/agreement.ts; skipped without `bash scripts/make-fixtures.sh`'s fp32 fixture), and the vision task's stages (bench/vision.ts: CLIP images/s and
 * texts/s on the random-weight ViT-B/32 fixture of `bash scripts/make-fixtures.sh --bench`, share of time per stage of vl-demo). Figures, not pass/fail: read them.
 * Each engine figure is the best of BENCH_REPS runs (default 2): on a 2-core machine anything else running
 * (a compiler, another test) lands in one run or the other.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { engineBench } from './engine.js';

const questions = Number(process.env.BENCH_QUESTIONS ?? 256);
const reps = Number(process.env.BENCH_REPS ?? 2);
console.log(`# engine: 57 subjects × ${questions} questions × 58 personas (57 experts + baseline), instant backend, best of ${reps}`);
for (const batch of [16, 128]) {
  const runs = [];
  for (let i = 0; i < reps; i++) runs.push(await engineBench({ subjects: 57, questions, batch }));
  const plain = Math.max(...runs.map((r) => r.plainCellsPerSec));
  const temporal = Math.max(...runs.map((r) => r.temporalCellsPerSec));
  const postgres = Math.max(...runs.map((r) => r.postgresCellsPerSec ?? NaN));
  console.log(
    `questions_per_batch=${batch}: ${runs[0]!.cells} cells; plain ${plain.toFixed(0)} cells/s, temporal+sqlite ${temporal.toFixed(0)} cells/s, ` +
      `temporal/plain = ${(temporal / plain).toFixed(3)} (overhead ${((1 - temporal / plain) * 100).toFixed(1)} %); ` +
      `temporal+postgres ${postgres.toFixed(0)} cells/s, postgres/sqlite = ${(postgres / temporal).toFixed(3)}`,
  );
}

console.log('\n# local inference (bench/local.ts; pass a model folder with BENCH_MODEL)');
const args = [join(PACKAGE_ROOT, 'dist', 'bench', 'local.js'), ...(process.env.BENCH_MODEL ? ['--model', process.env.BENCH_MODEL] : [])];
const local = spawnSync(process.execPath, args, { stdio: 'inherit' });

console.log('\n# int8 / w8 / fp32 agreement on MMLU persona cells (bench/agreement.ts; BENCH_AGREEMENT_SUBJECTS, BENCH_AGREEMENT_QUESTIONS)');
const agreement = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'bench', 'agreement.js')], { stdio: 'inherit' });

console.log('\n# vision task (bench/vision.ts; BENCH_CLIP, BENCH_BATCHES, BENCH_THREADS, BENCH_IMAGES)');
const vision = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'bench', 'vision.js')], { stdio: 'inherit' });
process.exitCode = (local.status ?? 1) || (agreement.status ?? 1) || (vision.status ?? 1);
