/**
 * On a real model, when the workplace provides one in ../shared/models (Hugging Face ONNX layout): batched and
 * prefix-reused scores equal one-at-a-time scores (≤ 1e-4 in fp32), the answer tokens are Llama-3's, and a small MMLU
 * run goes through the whole Temporal path. Without such a folder there is nothing to run this on: the suite
 * says so and the fixtures' equivalence tests (local.scoring, local.backend) stand in.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalOnnxBackend } from '../local/backend.js';
import { unloadLocalModels } from '../local/model.js';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { formatPrompt } from '../prompts/formats.js';
import { harness, tmpDir, MMLU_DATA } from './support/harness.js';

// ROLYPLAY_SHARED_MODELS points elsewhere (e.g. models/ to check this file against the demo model).
const SHARED_MODELS = process.env.ROLYPLAY_SHARED_MODELS ?? resolve(PACKAGE_ROOT, '..', 'shared', 'models');

function findModel(): string | undefined {
  if (!existsSync(SHARED_MODELS)) return undefined;
  const candidates = [SHARED_MODELS, ...readdirSync(SHARED_MODELS).map((d) => join(SHARED_MODELS, d))];
  return candidates.find((d) => existsSync(join(d, 'config.json')) && existsSync(join(d, 'tokenizer.json')) && existsSync(join(d, 'onnx')));
}

const MODEL = findModel();
/** The first variant the folder has, fp32 preferred (SmolLM2-135M-Instruct ships int8 only). */
const VARIANT = MODEL && !existsSync(join(MODEL, 'onnx/model.onnx')) && existsSync(join(MODEL, 'onnx/model_int8.onnx')) ? 'int8' : 'fp32';
if (!MODEL) console.warn(`no model folder in ${SHARED_MODELS}: the real-model tests have nothing to run on`);

afterAll(unloadLocalModels);

describe.runIf(MODEL)(`real model in ${MODEL}`, () => {
  const personas = ['abstract algebra expert', 'virology expert', 'none'];
  const prompts = personas.map((p) => {
    const user =
      'Please consider the following multiple-choice question and the four answer options A, B, C, and D.\n' +
      `Question: Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA: 0\nB: 4\nC: 2\nD: 6\n\nIf you were a ${p}, which answer would you choose?`;
    return { prompt: { user, text: formatPrompt('plain', { user }) }, options: ['A', 'B', 'C', 'D'] };
  });

  // onnxruntime's dynamic int8 quantization (the only variant shipped in ../shared/models) quantizes activations
  // per tensor, so a prompt's scores depend on what else is in its batch (measured: up to ~2 nats between batched
  // and one-at-a-time on SmolLM2-135M int8). Equivalence needs a batch-invariant export (fp32 or weight-only int8).
  it.skipIf(VARIANT === 'int8')('batched + prefix-reused scores equal one-at-a-time scores', async () => {
    const fast = new LocalOnnxBackend({ path: MODEL!, variant: VARIANT, format: 'plain', maxBatch: 8 });
    const slow = new LocalOnnxBackend({ path: MODEL!, variant: VARIANT, format: 'plain', maxBatch: 1, prefixReuse: false });
    const [a, b] = [await fast.scoreOptions(prompts), await slow.scoreOptions(prompts)];
    a.forEach((o, i) => {
      const s = b[i]!;
      if (!o.ok || !s.ok) throw new Error('scoring failed');
      o.value.logprobs.forEach((x, j) => expect(Math.abs(x - s.value.logprobs[j]!)).toBeLessThanOrEqual(1e-4));
    });
  }, 600_000);

  it('runs a small MMLU persona experiment through Temporal', async () => {
    const h = await harness();
    try {
      await h.startWorker();
      const result = await h.run({
        config: {
          name: 'real-model',
          task: 'mmlu',
          data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 2 },
          personas: [{ name: 'p', personas: personas.filter((p) => p !== 'none') }, 'baseline'],
          format: 'plain',
          model: { backend: 'onnx', path: MODEL, variant: VARIANT },
          execution: { task_queue: h.taskQueue },
          output: { dir: tmpDir() },
        },
      });
      expect(result.cells).toBe(6);
      expect(result.discarded).toBe(0);
    } finally {
      await h.close();
    }
  }, 900_000);
});
