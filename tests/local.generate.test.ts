import { random } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTokens, type GenerateParams } from '../backends/onnx/generate.js';
import { loadLocalModel, unloadLocalModels, type LocalModel } from '../backends/onnx/model.js';
import { argmax, pickToken } from '../backends/onnx/sampling.js';
import { nextTokenLogits } from '../backends/onnx/scoring.js';
import { encodePrompt } from '../backends/onnx/tokens.js';
import { formatPrompt } from '../prompts/formats.js';
import { TINY } from './support/localFixtures.js';

const GREEDY: GenerateParams = { temperature: 0, topK: 0, topP: 1, maxNewTokens: 12, stop: [] };
const SAMPLED: GenerateParams = { temperature: 0.9, topK: 50, topP: 0.95, maxNewTokens: 12, stop: [], seed: 7 };

let model: LocalModel;
let prompts: number[][];

beforeAll(async () => {
  model = await loadLocalModel({ path: TINY });
  prompts = ['Describe a bird.', 'If you were a 4 year old, how would you describe a Cardinal?', 'Hi'].map((user) =>
    encodePrompt(model.tokenizer, formatPrompt('llama3_chat', { user })),
  );
});
afterAll(unloadLocalModels);

const gen = (ps: number[][], params: GenerateParams[], maxBatch = 8, stopIds: number[] = []) =>
  generateTokens(model, ps, params, { maxBatch, stopIds });

describe('greedy generation', () => {
  it('equals the argmax chain of single-prompt scoring', async () => {
    const [out] = await gen([prompts[1]!], [GREEDY]);
    const seq = [...prompts[1]!];
    const chain: number[] = [];
    for (let i = 0; i < GREEDY.maxNewTokens; i++) {
      const [logits] = await nextTokenLogits(model, [seq], { maxBatch: 1, prefixReuse: false });
      chain.push(argmax(logits!));
      seq.push(chain.at(-1)!);
    }
    expect(out!.tokens).toEqual(chain);
    expect(out!.text).toBe(model.tokenizer.decode(chain, { skip_special_tokens: true }));
  });

  it('is the same alone and in a left-padded batch', async () => {
    const batched = await gen(prompts, prompts.map(() => GREEDY));
    for (let i = 0; i < prompts.length; i++) {
      const [alone] = await gen([prompts[i]!], [GREEDY]);
      expect(batched[i]).toEqual(alone);
    }
  });

  it('ends at a stop token id, a stop string (cut from the text) or max_new_tokens', async () => {
    const [full] = await gen([prompts[0]!], [GREEDY]);
    expect(full!.tokens).toHaveLength(GREEDY.maxNewTokens);
    const [byId] = await gen([prompts[0]!], [GREEDY], 8, [full!.tokens[2]!]);
    expect(byId!.tokens).toEqual(full!.tokens.slice(0, 3));
    const stop = full!.text.slice(5, 8);
    const [byString] = await gen([prompts[0]!], [{ ...GREEDY, stop: ['never there', stop] }]);
    expect(byString!.text).toBe(full!.text.slice(0, full!.text.indexOf(stop)));
    expect(byString!.tokens.length).toBeLessThan(full!.tokens.length);
    const [short] = await gen([prompts[0]!], [{ ...GREEDY, maxNewTokens: 2 }]);
    expect(short!.tokens).toEqual(full!.tokens.slice(0, 2));
  });

  it('decodes only the new tokens, without special tokens', async () => {
    const eot = model.tokenizer.encode('<|eot_id|>', { add_special_tokens: false })[0]!;
    const [out] = await gen([prompts[2]!], [{ ...GREEDY, maxNewTokens: 1 }]);
    expect(model.tokenizer.decode([...out!.tokens, eot], { skip_special_tokens: true })).toBe(out!.text);
    expect(out!.text).not.toContain('Hi');
  });
});

describe('sampled generation', () => {
  it('is reproducible for a seed, alone or batched; other seeds differ', async () => {
    const [a] = await gen([prompts[1]!], [SAMPLED]);
    const [b] = await gen([prompts[1]!], [SAMPLED]);
    expect(a).toEqual(b);
    const batched = await gen(prompts, [{ ...SAMPLED, seed: 1 }, SAMPLED, { ...SAMPLED, seed: 2 }], 3);
    expect(batched[1]).toEqual(a);
    const others = await gen([1, 2, 3, 4].map(() => prompts[1]!), [11, 12, 13, 14].map((seed) => ({ ...SAMPLED, seed })));
    expect(others.some((o) => o.text !== a!.text)).toBe(true);
  });
});

describe('pickToken', () => {
  const draw = (logits: number[], p: Omit<GenerateParams, 'maxNewTokens' | 'stop'>, n = 4000) => {
    const rng = new random.Random(3);
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[pickToken(Float32Array.from(logits), p, () => rng.random())]!++;
    return counts.map((c) => c / n);
  };
  const probs = [0.5, 0.3, 0.2].map(Math.log);

  it('samples the softmax at the temperature', () => {
    const f = draw([0, Math.log(2)], { temperature: 1, topK: 0, topP: 1 });
    expect(f[1]).toBeCloseTo(2 / 3, 1);
    const hot = draw([0, Math.log(2)], { temperature: 2, topK: 0, topP: 1 });
    expect(hot[1]).toBeCloseTo(Math.SQRT2 / (1 + Math.SQRT2), 1);
  });

  it('top-k keeps the k best; top-p keeps a token while the mass above it is < top_p (HF)', () => {
    expect(draw([3, 2, 1, 0], { temperature: 1, topK: 2, topP: 1 }).slice(2)).toEqual([0, 0]);
    expect(draw(probs, { temperature: 1, topK: 0, topP: 0.6 })[2]).toBe(0);
    expect(draw(probs, { temperature: 1, topK: 0, topP: 0.6 })[1]).toBeCloseTo(0.375, 1);
    expect(draw(probs, { temperature: 1, topK: 0, topP: 0.5 })).toEqual([1, 0, 0]);
    expect(pickToken(Float32Array.from(probs), { temperature: 0, topK: 0, topP: 1 }, () => 0.99)).toBe(0);
  });
});
