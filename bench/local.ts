/**
 * Local-inference throughput on real MMLU prompts: persona x question cells per second for
 *   (a) one prompt at a time, (b) batched (left padding), (c) batched with shared-prefix reuse,
 * plus peak RSS. The persona sits after the question in the paper's template, so (c) runs each question once.
 *
 *   npm run build && node dist/bench/local.js [--model DIR] [--questions 4] [--personas 57] [--batch 16]
 *
 * Default model: the biggest fixture present: .cache/fixtures/bench-llama3 (hidden 512, 8 layers, Llama-3 vocab),
 * .cache/fixtures/tiny-llama3, models/tiny-random-llama (see scripts/make-tiny-llama.py); or a real model folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { OptionScoreRequest } from '../backends/types.js';
import { LocalOnnxBackend, type LocalOnnxOptions } from '../local/backend.js';
import { ONNX_VARIANTS, type OnnxVariant } from '../local/folder.js';
import { encodePrompt } from '../local/tokens.js';
import { PROMPT_FORMATS, formatPrompt, type PromptFormat } from '../prompts/formats.js';
import { loadSubject } from '../tasks/mmlu/data.js';
import { renderMmluPrompt } from '../tasks/mmlu/prompts.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const defaultModel = ['.cache/fixtures/bench-llama3', '.cache/fixtures/tiny-llama3', 'models/tiny-random-llama']
  .map((d) => path.join(ROOT, d))
  .find((d) => existsSync(path.join(d, 'onnx')));

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: defaultModel },
    variant: { type: 'string', default: 'fp32' },
    format: { type: 'string', default: 'llama3_chat' },
    data: { type: 'string', default: '/work/shared/data/mmlu' },
    subject: { type: 'string', default: 'high_school_biology' },
    questions: { type: 'string', default: '4' },
    personas: { type: 'string', default: '57' },
    batch: { type: 'string', default: '16' },
    modes: { type: 'string', default: 'single,batched,prefix' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
});

const MODES = {
  single: { maxBatch: 1, prefixReuse: false },
  batched: { maxBatch: Number(args.batch), prefixReuse: false },
  prefix: { maxBatch: Number(args.batch), prefixReuse: true },
} as const;
type Mode = keyof typeof MODES;

function requests(): OptionScoreRequest[] {
  const template = parseYaml(readFileSync(path.join(ROOT, 'configs/templates/mmlu_paper.yaml'), 'utf8'));
  const personas = (parseYaml(readFileSync(path.join(ROOT, 'configs/personas/mmlu_experts.yaml'), 'utf8'))
    .personas as string[]).slice(0, Number(args.personas));
  const items = loadSubject(args.data!, args.subject!, 'test').slice(0, Number(args.questions));
  return items.flatMap((item) =>
    personas.map((persona) => {
      const user = renderMmluPrompt({ name: template.name, separator: template.separator, text: template.text }, item, persona);
      return { prompt: { user, text: formatPrompt(args.format as PromptFormat, { user }) }, options: ['A', 'B', 'C', 'D'] };
    }),
  );
}

interface ModeResult {
  seconds: number;
  cellsPerSecond: number;
  /** Max RSS of a process that loaded the model and ran only this mode. */
  peakRssMB: number;
  logprobs: number[][];
}

/** Child process: one mode. onnxruntime-node runs sessions synchronously on the main thread, so RSS cannot be
 * sampled from inside; a process per mode gives each its own max RSS instead. */
async function runMode(mode: Mode, reqs: OptionScoreRequest[], base: LocalOnnxOptions): Promise<ModeResult> {
  const backend = new LocalOnnxBackend({ ...base, ...MODES[mode] });
  await backend.scoreOptions(reqs.slice(0, 2)); // warm-up: load, first-run allocations
  const start = performance.now();
  const out = await backend.scoreOptions(reqs);
  const seconds = (performance.now() - start) / 1000;
  return {
    seconds,
    cellsPerSecond: reqs.length / seconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    logprobs: out.map((o) => (o.ok ? o.value.logprobs : [NaN])),
  };
}

async function main(): Promise<void> {
  if (!args.model) throw new Error('no model: pass --model DIR (or generate a fixture, see scripts/make-tiny-llama.py)');
  if (!ONNX_VARIANTS.includes(args.variant as OnnxVariant)) throw new Error(`--variant: one of ${ONNX_VARIANTS}`);
  if (!PROMPT_FORMATS.includes(args.format as PromptFormat)) throw new Error(`--format: one of ${PROMPT_FORMATS}`);
  const modes = args.modes!.split(',') as Mode[];
  for (const m of modes) if (!MODES[m]) throw new Error(`unknown mode ${m}: use ${Object.keys(MODES)}`);
  const reqs = requests();
  const base = { path: args.model, variant: args.variant as OnnxVariant, format: args.format as PromptFormat };
  if (args.child) return void console.log(JSON.stringify(await runMode(modes[0]!, reqs, base)));

  const loadStart = performance.now();
  const model = await new LocalOnnxBackend(base).model();
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const tokens = reqs.map((r) => encodePrompt(model.tokenizer, r.prompt.text).length);
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
  const summary = {
    model: model.dir,
    onnx: path.relative(model.dir, model.onnxFile),
    vocab: model.vocabSize,
    logitsToKeep: model.io.logitsToKeep,
    cells: reqs.length,
    meanPromptTokens: Math.round(tokens.reduce((a, b) => a + b, 0) / tokens.length),
    batch: Number(args.batch),
    loadSeconds,
    modes: Object.fromEntries(Object.entries(results).map(([m, { logprobs: _, ...r }]) => [m, r])),
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
  for (const [mode, r] of Object.entries(summary.modes)) {
    console.log(
      `  ${mode.padEnd(8)} ${r.cellsPerSecond.toFixed(1).padStart(8)} cells/s ${r.seconds.toFixed(2).padStart(7)} s` +
        `   peak RSS ${r.peakRssMB.toFixed(0)} MB`,
    );
  }
  console.log(`max |Δ log-prob| between modes: ${maxDelta.toExponential(2)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
