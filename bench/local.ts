/**
 * Local-inference throughput on real MMLU prompts: persona x question cells per second for
 *   seed     the seed's way: for each persona, the subject's questions in file order in batches of 16, each padded on
 *            the left to its longest prompt (SPEC.md: test split, shuffle=False, batch 16, scored once per persona)
 *   batched  full prompts, batches of --batch sorted by length (less padding)
 *   prefix   batches of --batch with shared-prefix reuse: each question's prefix runs once (the persona comes after it),
 *            and its suffixes run as one packed sequence (patched graph)
 *   tiled    (optional) prefix reuse with the prefix cache tiled over a padded batch of suffixes (export's graph)
 *   single   (optional) one prompt at a time
 * with the tokens computed per cell (padding included), peak RSS, and the fraction of the machine's measured matmul
 * rate (onnxruntime's own MatMul / DynamicQuantizeMatMul on constant weights at the model's shapes, bench/roofline.ts) that the weight matmuls reach.
 *
 *   npm run build && node dist/bench/local.js [--model DIR --variant int8 --format chat_template] [--questions 16]
 *     [--personas 57] [--batch 64] [--subject high_school_biology[,other_subject…]] [--providers cpu|cuda]
 *
 * Default model: the real SmolLM2-135M-Instruct (int8, its chat template) from ../shared/models when present, else the
 * biggest fixture: .cache/fixtures/bench-llama3, .cache/fixtures/tiny-llama3, models/tiny-random-llama.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { LocalOnnxBackend, type LocalOnnxOptions } from '../backends/onnx/backend.js';
import { ONNX_VARIANTS, type OnnxVariant } from '../backends/onnx/folder.js';
import { promptTokens } from '../backends/onnx/tokens.js';
import { forwardCounters } from '../backends/onnx/forward.js';
import { sessionOptions } from '../backends/onnx/model.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../backends/onnx/options.js';
import { layerMatmuls, layerShapes, measureMatmul } from './roofline.js';
import { PROMPT_FORMATS, type PromptFormat } from '../prompts/formats.js';
import { mmluPersonaCells, type MmluCell } from './mmluCells.js';

// The package root from source (tsx) or dist alike; the shared data sit beside it.
const ROOT = PACKAGE_ROOT;
const SHARED = path.join(ROOT, '..', 'shared');
const SMOLLM2 = path.join(SHARED, 'models', 'SmolLM2-135M-Instruct');
const real = existsSync(path.join(SMOLLM2, 'onnx/model_int8.onnx'));
const defaultModel = real
  ? SMOLLM2
  : ['.cache/fixtures/bench-llama3', '.cache/fixtures/tiny-llama3', 'models/tiny-random-llama']
      .map((d) => path.join(ROOT, d))
      .find((d) => existsSync(path.join(d, 'onnx')));

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: defaultModel },
    variant: { type: 'string', default: real ? 'int8' : 'fp32' },
    format: { type: 'string', default: real ? 'chat_template' : 'llama3_chat' },
    data: { type: 'string', default: path.join(SHARED, 'data', 'mmlu') },
    subject: { type: 'string', default: 'high_school_biology' },
    questions: { type: 'string', default: '16' },
    personas: { type: 'string', default: '57' },
    batch: { type: 'string', default: '64' },
    modes: { type: 'string', default: 'seed,batched,prefix' },
    providers: { type: 'string', default: 'cpu' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
});

const MODES = {
  single: { maxBatch: 1, prefixReuse: false },
  // The seed ran each batch of 16 as one forward pass, however long its longest prompt (no token budget).
  seed: { maxBatch: 16, prefixReuse: false, maxBatchTokens: Number.MAX_SAFE_INTEGER },
  batched: { maxBatch: Number(args.batch), prefixReuse: false },
  // Suffixes of a prefix run as one sequence on the patched graph (backends/onnx/graphPatch.ts).
  prefix: { maxBatch: Number(args.batch), prefixReuse: true },
  // The prefix cache tiled over a padded batch of suffixes, on the export's own graph (the prefix mode before packing).
  tiled: { maxBatch: Number(args.batch), prefixReuse: true, packing: false, patchGraph: false },
} as const;
type Mode = keyof typeof MODES;

function cells(): MmluCell[] {
  return mmluPersonaCells({
    data: args.data!,
    subjects: args.subject!.split(','),
    questions: Number(args.questions),
    personas: Number(args.personas),
    format: args.format as PromptFormat,
  });
}

interface ModeResult {
  seconds: number;
  cellsPerSecond: number;
  /** Max RSS of a process that loaded the model and ran only this mode. */
  peakRssMB: number;
  /** Token positions the model computed (padding included) per cell. */
  tokensPerCell: number;
  /** The tokens among them that had to be computed (no padding): the prompt's own tokens, a shared prefix once. */
  realTokensPerCell: number;
  sessionRuns: number;
  logprobs: number[][];
}

/** Child process: one mode. onnxruntime-node runs sessions synchronously on the main thread, so RSS cannot be
 * sampled from inside; a process per mode gives each its own max RSS instead. */
async function runMode(mode: Mode, all: MmluCell[], base: LocalOnnxOptions): Promise<ModeResult> {
  const reqs = all.map((c) => c.request);
  const backend = new LocalOnnxBackend({ ...base, ...MODES[mode] });
  await backend.scoreOptions(reqs.slice(0, 2)); // warm-up: load, first-run allocations
  (await backend.model()).lastPrefix = undefined; // the warm-up's prefix must not count as reused
  const before = { ...forwardCounters };
  const start = performance.now();
  const out = mode === 'seed' ? await seedOrder(backend, all) : await backend.scoreOptions(reqs);
  const seconds = (performance.now() - start) / 1000;
  if (process.env.ROLYPLAY_ORT_PROFILE) (await backend.model()).session.endProfiling(); // writes the trace
  return {
    seconds,
    cellsPerSecond: reqs.length / seconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tokensPerCell: (forwardCounters.tokens - before.tokens) / reqs.length,
    realTokensPerCell: (forwardCounters.realTokens - before.realTokens) / reqs.length,
    sessionRuns: forwardCounters.runs - before.runs,
    logprobs: out.map((o) => (o.ok ? o.value.logprobs : [NaN])),
  };
}

/** The seed's batches: per persona, a subject's questions in file order, 16 at a time, one padded batch each. */
async function seedOrder(backend: LocalOnnxBackend, all: MmluCell[]): Promise<Awaited<ReturnType<LocalOnnxBackend['scoreOptions']>>> {
  const out: Awaited<ReturnType<LocalOnnxBackend['scoreOptions']>> = new Array(all.length);
  const runs = new Map<string, number[]>(); // persona + subject -> cell indices in question order
  all.forEach((c, i) => {
    const key = JSON.stringify([c.persona, c.subject]);
    runs.set(key, [...(runs.get(key) ?? []), i]);
  });
  for (const idx of runs.values()) {
    for (let q = 0; q < idx.length; q += MODES.seed.maxBatch) {
      const batch = idx.slice(q, q + MODES.seed.maxBatch);
      const got = await backend.scoreOptions(batch.map((i) => all[i]!.request));
      batch.forEach((i, k) => (out[i] = got[k]!));
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (!args.model) throw new Error('no model: pass --model DIR (or generate a fixture, see scripts/make-tiny-llama.py)');
  if (!ONNX_VARIANTS.includes(args.variant as OnnxVariant)) throw new Error(`--variant: one of ${ONNX_VARIANTS}`);
  if (!PROMPT_FORMATS.includes(args.format as PromptFormat)) throw new Error(`--format: one of ${PROMPT_FORMATS}`);
  const modes = args.modes!.split(',') as Mode[];
  for (const m of modes) if (!MODES[m]) throw new Error(`unknown mode ${m}: use ${Object.keys(MODES)}`);
  const providers = args.providers!.split(',') as ExecutionProvider[];
  for (const p of providers) if (!EXECUTION_PROVIDERS.includes(p)) throw new Error(`--providers: a list of ${EXECUTION_PROVIDERS}`);
  const all = cells();
  const reqs = all.map((c) => c.request);
  const base = { path: args.model, variant: args.variant as OnnxVariant, format: args.format as PromptFormat, executionProviders: providers };
  if (args.child) return void console.log(JSON.stringify(await runMode(modes[0]!, all, base)));

  const loadStart = performance.now();
  const model = await new LocalOnnxBackend(base).model();
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const tokens = reqs.map((r) => promptTokens(model.tokenizer, args.format as PromptFormat, r.prompt).length);
  const config = JSON.parse(readFileSync(path.join(model.dir, 'config.json'), 'utf8'));
  const flops = flopsPerToken(config);
  const opts = sessionOptions(providers, args.variant as OnnxVariant);
  const roofline = await measureMatmul(args.variant === 'int8' ? 'DynamicQuantizeMatMul' : 'MatMul', opts, layerShapes(config));
  const results: Partial<Record<Mode, ModeResult>> = {};
  for (const mode of modes) {
    const argv = [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--modes', mode, '--child'];
    results[mode] = JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 2 ** 28 }));
  }
  const runs = Object.values(results);
  let maxDelta = 0;
  for (const r of runs.slice(1)) {
    r.logprobs.forEach((row, i) => row.forEach((x, j) => (maxDelta = Math.max(maxDelta, Math.abs(x - runs[0]!.logprobs[i]![j]!)))));
  }
  const seed = results.seed?.cellsPerSecond;
  const modesOut = Object.fromEntries(
    Object.entries(results).map(([m, { logprobs: _, ...r }]) => {
      // Weight matmuls of every computed position, plus the lm_head of one position per cell (num_logits_to_keep);
      // `useful` counts only the tokens that had to be computed (no padding), the issue's measure.
      const rate = (tokens: number) => (r.cellsPerSecond * (tokens * flops.perToken + flops.lmHead)) / 1e9;
      const gflops = rate(r.tokensPerCell);
      const useful = rate(r.realTokensPerCell);
      return [
        m,
        {
          ...r,
          gflops,
          rooflineFraction: gflops / roofline.gflops,
          usefulGflops: useful,
          usefulRooflineFraction: useful / roofline.gflops,
          ...(seed ? { vsSeed: r.cellsPerSecond / seed } : {}),
        },
      ];
    }),
  );
  const summary = {
    model: model.dir,
    onnx: path.relative(model.dir, model.onnxFile),
    vocab: model.vocabSize,
    logitsToKeep: model.io.logitsToKeep,
    cells: reqs.length,
    meanPromptTokens: Math.round(tokens.reduce((a, b) => a + b, 0) / tokens.length),
    batch: Number(args.batch),
    loadSeconds,
    intraOpThreads: process.env.ROLYPLAY_ORT_THREADS ?? 'onnxruntime default',
    gflopPerToken: flops.perToken / 1e9,
    roofline,
    modes: modesOut,
    maxAbsDeltaLogprob: maxDelta,
  };
  if (args.json) return void console.log(JSON.stringify(summary, null, 1));
  console.log(
    `${summary.model} (${summary.onnx}, vocab ${summary.vocab}, num_logits_to_keep: ${summary.logitsToKeep}), ` +
      `load ${loadSeconds.toFixed(2)} s`,
  );
  console.log(
    `${reqs.length} cells (${args.subject}, ${args.questions} questions x ${args.personas} personas), ` +
      `mean ${summary.meanPromptTokens} prompt tokens, batch ${args.batch}`,
  );
  console.log(
    `roofline: onnxruntime ${roofline.op}, constant weights, best of ` +
      `${Object.entries(roofline.shapes).map(([s, g]) => `${s} ${g.toFixed(0)}`).join(', ')} GFLOP/s = ${roofline.gflops.toFixed(1)}; ` +
      `model ${(flops.perToken / 1e9).toFixed(3)} GFLOP per computed token (weight matmuls)`,
  );
  console.log(
    '  mode        cells/s  vs seed  tokens/cell (real)  session runs  GFLOP/s  roofline  real-token roofline   seconds  peak RSS',
  );
  for (const [mode, r] of Object.entries(summary.modes)) {
    console.log(
      `  ${mode.padEnd(8)} ${r.cellsPerSecond.toFixed(1).padStart(10)} ${(r.vsSeed ? `${r.vsSeed.toFixed(2)}x` : '-').padStart(8)}` +
        ` ${`${r.tokensPerCell.toFixed(1)} (${r.realTokensPerCell.toFixed(1)})`.padStart(19)} ${String(r.sessionRuns).padStart(13)}` +
        ` ${r.gflops.toFixed(1).padStart(8)} ${(100 * r.rooflineFraction).toFixed(0).padStart(8)}%` +
        ` ${(100 * r.usefulRooflineFraction).toFixed(0).padStart(19)}% ${r.seconds.toFixed(2).padStart(9)} ${r.peakRssMB.toFixed(0).padStart(6)} MB`,
    );
  }
  console.log(`max |Δ log-prob| between modes: ${maxDelta.toExponential(2)}${args.variant === 'int8' ? ' (dynamic int8 is not batch-invariant; variant w8 is)' : ''}`);
}

/** Multiply-adds ×2 of the weight matmuls per token (q, k, v, o, gate, up, down), and of the lm_head. */
function flopsPerToken(c: Record<string, number>): { perToken: number; lmHead: number } {
  const layer = layerMatmuls(c).reduce((sum, [k, n]) => sum + k * n, 0);
  return { perToken: 2 * c.num_hidden_layers! * layer, lmHead: 2 * c.hidden_size! * c.vocab_size! };
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
