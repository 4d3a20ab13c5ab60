/**
 * The real model's fp32 export (scripts/make-fp32-smollm2.py, built by scripts/make-fixtures.sh) through our
 * backend against PyTorch: reference.json holds torch's fp32 last-position logits (a handful of token ids and the
 * log-sum-exp over the vocabulary) of six chat-template prompts, each alone. Our scoring path must reproduce them
 * to ≤ 1e-3 one prompt at a time, batched (left padding) and with shared-prefix reuse (a tiled cache with padding
 * between prefix and suffix). Under CI=true a missing fixture fails, naming the command that builds it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalOnnxBackend } from '../backends/onnx/backend.js';
import { loadLocalModel, unloadLocalModels, type LocalModel } from '../backends/onnx/model.js';
import { logSumExp, nextTokenLogits, planBatches, type BatchOptions } from '../backends/onnx/scoring.js';
import { promptTokens } from '../backends/onnx/tokens.js';
import { SMOLLM2_FP32, SMOLLM2_FP32_MISSING, hasSmolLM2Fp32 } from './support/localFixtures.js';

if (!hasSmolLM2Fp32 && process.env.CI) throw new Error(SMOLLM2_FP32_MISSING);
if (!hasSmolLM2Fp32) console.warn(`${SMOLLM2_FP32_MISSING}; its tests are skipped on this machine`);

interface Reference {
  answer_ids: number[];
  prompts: { user: string; ids: number[]; logits: Record<string, number>; logsumexp: number; top: number[] }[];
}

const TOL = 1e-3;
const MODES: Record<string, BatchOptions> = {
  'one prompt at a time': { maxBatch: 1, prefixReuse: false },
  'batched (left-padded)': { maxBatch: 6, prefixReuse: false },
  'prefix-reused': { maxBatch: 6, prefixReuse: true },
};

afterAll(unloadLocalModels);

describe.runIf(hasSmolLM2Fp32)('SmolLM2-135M-Instruct fp32 export vs PyTorch fp32', () => {
  let ref: Reference;
  let model: LocalModel;
  beforeAll(async () => {
    ref = JSON.parse(readFileSync(join(SMOLLM2_FP32, 'reference.json'), 'utf8')) as Reference;
    model = await loadLocalModel({ path: SMOLLM2_FP32, variant: 'fp32' });
  });

  it('loads as variant fp32 with the onnx-community IO (num_logits_to_keep, float32 cache)', () => {
    expect(model.onnxFile).toBe(join(SMOLLM2_FP32, 'onnx', 'model.onnx'));
    expect(model.io).toEqual({ layers: 30, kvHeads: 3, headDim: 64, kvType: 'float32', logitsToKeep: true });
    expect(model.vocabSize).toBe(49152);
  });

  it('our chat-template tokenization gives the reference token ids (HF apply_chat_template)', () => {
    for (const p of ref.prompts) {
      expect(promptTokens(model.tokenizer, 'chat_template', { user: p.user, text: p.user })).toEqual(p.ids);
    }
  });

  it('the prefix-reuse mode really shares prefixes and the batched mode really pads', () => {
    const seqs = ref.prompts.map((p) => p.ids);
    const reuse = planBatches(seqs, MODES['prefix-reused']!);
    expect(reuse.some((b) => b.rows.length > 1 && b.prefix >= 8)).toBe(true);
    const lengths = new Set(seqs.map((s) => s.length));
    expect(lengths.size).toBeGreaterThan(1);
  });

  for (const [mode, opts] of Object.entries(MODES)) {
    it(`next-token logits, ${mode}: ≤ ${TOL} from torch`, async () => {
      model.lastPrefix = undefined;
      const logits = await nextTokenLogits(model, ref.prompts.map((p) => p.ids), opts);
      let gap = 0;
      ref.prompts.forEach((p, i) => {
        const row = logits[i]!;
        for (const [id, want] of Object.entries(p.logits)) gap = Math.max(gap, Math.abs(row[Number(id)]! - want));
        gap = Math.max(gap, Math.abs(logSumExp(row) - p.logsumexp));
        // torch's top token is ours too (ties aside: the top two differ by far more than TOL here).
        expect(row.indexOf(Math.max(...row))).toBe(p.top[0]);
      });
      expect(gap).toBeLessThanOrEqual(TOL);
    });
  }

  for (const [mode, opts] of Object.entries(MODES)) {
    it(`LocalOnnxBackend.scoreOptions (A-D log-probs), ${mode}: ≤ ${TOL} from torch`, async () => {
      model.lastPrefix = undefined;
      const backend = new LocalOnnxBackend({ path: SMOLLM2_FP32, variant: 'fp32', format: 'chat_template', ...opts });
      const out = await backend.scoreOptions(
        ref.prompts.map((p) => ({ prompt: { user: p.user, text: p.user }, options: ['A', 'B', 'C', 'D'] })),
      );
      let gap = 0;
      out.forEach((o, i) => {
        if (!o.ok) throw o.error;
        const p = ref.prompts[i]!;
        const want = ref.answer_ids.map((id) => p.logits[String(id)]! - p.logsumexp);
        o.value.logprobs.forEach((x, j) => (gap = Math.max(gap, Math.abs(x - want[j]!))));
      });
      expect(gap).toBeLessThanOrEqual(TOL);
    });
  }
});
