/**
 * `npm run bench`: the engine's overhead (plain loop vs Temporal, instant backend) and local inference speed
 * (one prompt at a time / batched / batched with prefix reuse). Figures, not pass/fail: read them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { engineBench } from './engine.js';

const questions = Number(process.env.BENCH_QUESTIONS ?? 128);
console.log(`# engine: 57 subjects × ${questions} questions × 58 personas (57 experts + baseline), instant backend`);
for (const batch of [16, 64]) {
  const r = await engineBench({ subjects: 57, questions, batch });
  console.log(
    `questions_per_batch=${batch}: ${r.cells} cells; plain ${r.plainCellsPerSec.toFixed(0)} cells/s, ` +
      `temporal ${r.temporalCellsPerSec.toFixed(0)} cells/s, temporal/plain = ${r.ratio.toFixed(3)} ` +
      `(overhead ${((1 - r.ratio) * 100).toFixed(1)} %)`,
  );
}

console.log('\n# local inference (bench/local.ts; pass a model folder with BENCH_MODEL)');
const args = [join(PACKAGE_ROOT, 'dist', 'bench', 'local.js'), ...(process.env.BENCH_MODEL ? ['--model', process.env.BENCH_MODEL] : [])];
const local = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exitCode = local.status ?? 1;
