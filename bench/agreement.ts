/**
 * How much the quantized SmolLM2-135M-Instruct exports change MMLU persona results: the same cells (paper template,
 * the 57 expert personas, chat_template; bench/mmluCells.ts) scored by
 *   int8  the shared model (onnx/model_int8.onnx, onnxruntime dynamic quantization: int8 activations too)
 *   w8    .cache/fixtures/SmolLM2-135M-Instruct-w8 (the same int8 weights, float32 activations)
 *   fp32  .cache/fixtures/SmolLM2-135M-Instruct-fp32 (scripts/make-fp32-smollm2.py: the float32 weights the int8
 *         model was quantized from; matches PyTorch to ~1e-4)
 * with the runtime's default scoring (batches of --batch with shared-prefix reuse). Per pair: prediction agreement
 * (argmax over A-D), max and mean |Δ log-prob| over the 4 options of every cell; per model: accuracy against the gold
 * answers and seconds. Figures, not pass/fail. Without the fp32 fixture it says how to build it and exits 0.
 *
 *   npm run build && node dist/bench/agreement.js [--subjects a,b,c] [--questions 3] [--personas 57] [--batch 64]
 *     [--models int8,w8,fp32] [--json]
 *   --subjects all: the 57 MMLU subjects.   env (npm run bench): BENCH_AGREEMENT_SUBJECTS, BENCH_AGREEMENT_QUESTIONS
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { LocalOnnxBackend } from '../backends/onnx/backend.js';
import { findOnnxFile, type OnnxVariant } from '../backends/onnx/folder.js';
import { unloadLocalModels } from '../backends/onnx/model.js';
import { mmluPersonaCells } from './mmluCells.js';

const SHARED = path.join(PACKAGE_ROOT, '..', 'shared');
const MODELS: Record<string, { dir: string; variant: OnnxVariant; build: string }> = {
  int8: {
    dir: process.env.ROLYPLAY_SMOLLM2 ?? path.join(SHARED, 'models', 'SmolLM2-135M-Instruct'),
    variant: 'int8',
    build: 'the shared model (../shared/models/SmolLM2-135M-Instruct, see its SOURCE.md)',
  },
  w8: {
    dir: path.join(PACKAGE_ROOT, '.cache/fixtures/SmolLM2-135M-Instruct-w8'),
    variant: 'w8',
    build: '`bash scripts/make-fixtures.sh` (scripts/make-weight-only-int8.py)',
  },
  fp32: {
    dir: path.join(PACKAGE_ROOT, '.cache/fixtures/SmolLM2-135M-Instruct-fp32'),
    variant: 'fp32',
    build: '`bash scripts/make-fixtures.sh` (scripts/make-fp32-smollm2.py)',
  },
};
/** Short questions from three fields, so that the default run takes a few minutes on 2 cores. */
const DEFAULT_SUBJECTS = 'high_school_biology,high_school_mathematics,marketing';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(SHARED, 'data', 'mmlu') },
    subjects: { type: 'string', default: process.env.BENCH_AGREEMENT_SUBJECTS ?? DEFAULT_SUBJECTS },
    questions: { type: 'string', default: process.env.BENCH_AGREEMENT_QUESTIONS ?? '3' },
    personas: { type: 'string', default: '57' },
    batch: { type: 'string', default: '64' },
    models: { type: 'string', default: 'int8,w8,fp32' },
    json: { type: 'boolean', default: false },
  },
});

function present(name: string): boolean {
  const m = MODELS[name]!;
  try {
    findOnnxFile(m.dir, m.variant);
    return true;
  } catch {
    return false;
  }
}

interface PairStats {
  a: string;
  b: string;
  agree: number;
  /** Cells whose 4 options are in the same order under both (a stricter agreement than the argmax). */
  sameRanking: number;
  cells: number;
  maxAbsDelta: number;
  meanAbsDelta: number;
}

/** Agreement of the argmax over the options, and |Δ log-prob| over every option of every cell. */
function comparePair(a: number[][], b: number[][]): Omit<PairStats, 'a' | 'b'> {
  let agree = 0;
  let sameRanking = 0;
  let max = 0;
  let sum = 0;
  let n = 0;
  a.forEach((row, i) => {
    if (argmax(row) === argmax(b[i]!)) agree++;
    if (ranking(row) === ranking(b[i]!)) sameRanking++;
    row.forEach((x, j) => {
      const d = Math.abs(x - b[i]![j]!);
      max = Math.max(max, d);
      sum += d;
      n++;
    });
  });
  return { agree, sameRanking, cells: a.length, maxAbsDelta: max, meanAbsDelta: n ? sum / n : 0 };
}

function ranking(row: number[]): string {
  return row.map((x, i) => [x, i] as const).sort((p, q) => q[0] - p[0]).map(([, i]) => 'ABCD'[i]).join('');
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function main(): Promise<void> {
  const wanted = args.models!.split(',').map((s) => s.trim());
  for (const m of wanted) if (!MODELS[m]) throw new Error(`--models: unknown ${m} (use ${Object.keys(MODELS)})`);
  const missing = wanted.filter((m) => !present(m));
  if (missing.includes('fp32') || missing.includes('int8')) {
    for (const m of missing) console.log(`skipped: ${MODELS[m]!.dir} (${m}) is missing; it comes from ${MODELS[m]!.build}`);
    return;
  }
  for (const m of missing) console.log(`note: ${m} left out: ${MODELS[m]!.dir} is missing; build it with ${MODELS[m]!.build}`);
  const names = wanted.filter((m) => !missing.includes(m));
  const subjects =
    args.subjects === 'all'
      ? readdirSync(path.join(args.data!, 'test')).filter((f) => f.endsWith('_test.csv')).map((f) => f.slice(0, -'_test.csv'.length)).sort()
      : args.subjects!.split(',').map((s) => s.trim());
  const cells = mmluPersonaCells({
    data: args.data!,
    subjects,
    questions: Number(args.questions),
    personas: Number(args.personas),
    format: 'chat_template',
  });
  const scores: Record<string, number[][]> = {};
  const seconds: Record<string, number> = {};
  for (const name of names) {
    const m = MODELS[name]!;
    const backend = new LocalOnnxBackend({ path: m.dir, variant: m.variant, format: 'chat_template', maxBatch: Number(args.batch), prefixReuse: true });
    const start = performance.now();
    const out = await backend.scoreOptions(cells.map((c) => c.request));
    seconds[name] = (performance.now() - start) / 1000;
    scores[name] = out.map((o, i) => {
      if (!o.ok) throw new Error(`${name}: cell ${i} failed: ${o.error.message}`);
      return o.value.logprobs;
    });
    await unloadLocalModels(); // one model in memory at a time
  }
  const accuracy = Object.fromEntries(
    names.map((n) => [n, scores[n]!.filter((row, i) => argmax(row) === cells[i]!.label).length]),
  );
  const pairs: PairStats[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) pairs.push({ a: names[i]!, b: names[j]!, ...comparePair(scores[names[i]!]!, scores[names[j]!]!) });
  }
  // Answer distribution: a small model's favourite letter says more than accuracy about why pairs disagree.
  const letters = Object.fromEntries(
    names.map((n) => [n, [0, 1, 2, 3].map((k) => scores[n]!.filter((row) => argmax(row) === k).length)]),
  );
  const summary = {
    cells: cells.length,
    subjects,
    questionsPerSubject: Number(args.questions),
    personas: Number(args.personas),
    batch: Number(args.batch),
    models: Object.fromEntries(names.map((n) => [n, { dir: MODELS[n]!.dir, variant: MODELS[n]!.variant }])),
    accuracy,
    predictedLetters: letters,
    seconds,
    pairs,
  };
  if (args.json) return void console.log(JSON.stringify(summary, null, 1));
  const pct = (k: number, n: number) => `${((100 * k) / n).toFixed(1)} % (${k}/${n})`;
  console.log(
    `${cells.length} MMLU cells: ${subjects.length} subject(s) (${args.subjects === 'all' ? 'all' : subjects.join(', ')}) × ` +
      `${args.questions} question(s) × ` +
      `${args.personas} personas, paper template, chat_template, batch ${args.batch} with prefix reuse`,
  );
  console.log('| model | accuracy | predicted A / B / C / D | seconds |');
  console.log('| --- | --- | --- | --- |');
  for (const n of names) {
    console.log(`| ${n} | ${pct(accuracy[n]!, cells.length)} | ${letters[n]!.join(' / ')} | ${seconds[n]!.toFixed(1)} |`);
  }
  console.log('\n| pair | prediction agreement | same ranking of A-D | max abs Δ log-prob | mean abs Δ log-prob |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const p of pairs) {
    console.log(`| ${p.a} vs ${p.b} | ${pct(p.agree, p.cells)} | ${pct(p.sameRanking, p.cells)} | ${p.maxAbsDelta.toExponential(2)} | ${p.meanAbsDelta.toExponential(2)} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
