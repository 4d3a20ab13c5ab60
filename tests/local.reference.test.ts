/** The ONNX fixtures against an independent TypeScript forward pass of the same weights. */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, prefill } from '../backends/onnx/forward.js';
import { loadLocalModel, unloadLocalModels, type LocalModel } from '../backends/onnx/model.js';
import { encodePrompt } from '../backends/onnx/tokens.js';
import { assertTinyLlama3, hasTinyLlama3, requireTinyLlama3, TINY, TINY_LLAMA3 } from './support/localFixtures.js';
import { loadRef, refLogits } from './support/refLlama.js';

const TEXT =
  'Please consider the following multiple-choice question and the four answer options A, B, C, and D.\n' +
  'Question: Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA: 0\nB: 4\n';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** All-position logits straight from the session (no batching, empty cache). */
async function sessionLogits(model: LocalModel, ids: number[]): Promise<Float32Array> {
  const n = ids.length;
  const { layers, kvHeads, headDim } = model.io;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, n]),
  };
  for (let i = 0; i < layers; i++) {
    for (const p of ['key', 'value']) {
      feeds[`past_key_values.${i}.${p}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
  }
  return (await model.session.run(feeds)).logits!.data as Float32Array;
}

afterAll(unloadLocalModels);

describe('tiny-llama (vocab 512) vs TypeScript reference', () => {
  const ref = loadRef(TINY);

  it('logits at every position agree to 1e-4', async () => {
    const model = await loadLocalModel({ path: TINY });
    const ids = encodePrompt(model.tokenizer, TEXT);
    expect(ids.length).toBeGreaterThan(40);
    const expected = refLogits(ref, ids);
    const got = await sessionLogits(model, ids);
    const V = model.vocabSize;
    for (let t = 0; t < ids.length; t++) {
      expect(maxDiff(got.subarray(t * V, (t + 1) * V), expected[t]!)).toBeLessThan(1e-4);
    }
  });

  it('KV-cache decoding (chunked prefill, then one token per step) agrees to 1e-4', async () => {
    const model = await loadLocalModel({ path: TINY });
    const ids = encodePrompt(model.tokenizer, TEXT);
    const expected = refLogits(ref, ids);
    let step = await prefill(model, ids.slice(0, 20), 7);
    expect(maxDiff(step.logits[0]!, expected[19]!)).toBeLessThan(1e-4);
    for (let t = 20; t < ids.length; t++) {
      step = await forward(model, step.state, [[ids[t]!]]);
      expect(maxDiff(step.logits[0]!, expected[t]!)).toBeLessThan(1e-4);
    }
  });

  it('fp16 variant (fp16 IO + num_logits_to_keep) is close to the reference', async () => {
    const model = await loadLocalModel({ path: TINY, variant: 'fp16' });
    expect(model.io).toMatchObject({ kvType: 'float16', logitsToKeep: true });
    const ids = encodePrompt(model.tokenizer, TEXT);
    const expected = refLogits(ref, ids);
    let step = await prefill(model, ids.slice(0, 30), 64);
    expect(maxDiff(step.logits[0]!, expected[29]!)).toBeLessThan(0.1);
    step = await forward(model, step.state, [ids.slice(30, 33)]);
    expect(maxDiff(step.logits[0]!, expected[32]!)).toBeLessThan(0.1);
  });
});

describe.skipIf(!hasTinyLlama3 && !requireTinyLlama3)('tiny-llama3 (real Llama-3 vocab, tied) vs reference', () => {
  beforeAll(assertTinyLlama3);

  it('last-position logits agree to 1e-4 (num_logits_to_keep)', async () => {
    const model = await loadLocalModel({ path: TINY_LLAMA3 });
    expect(model.vocabSize).toBe(128256);
    expect(model.io.logitsToKeep).toBe(true);
    const ids = encodePrompt(model.tokenizer, TEXT).slice(0, 24);
    const expected = refLogits(loadRef(TINY_LLAMA3), ids);
    const step = await prefill(model, ids.slice(0, 16), 64);
    expect(maxDiff(step.logits[0]!, expected[15]!)).toBeLessThan(1e-4);
    const next = await forward(model, step.state, [ids.slice(16)]);
    expect(maxDiff(next.logits[0]!, expected[23]!)).toBeLessThan(1e-4);
  });
});
