import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptionScoreRequest } from '../backends/types.js';
import { LocalOnnxBackend } from '../backends/onnx/backend.js';
import { unloadLocalModels } from '../backends/onnx/model.js';
import { answerTokens } from '../backends/onnx/tokens.js';
import { formatPrompt } from '../prompts/formats.js';
import { assertTinyLlama3, copyFixture, hasTinyLlama3, requireTinyLlama3, TINY, TINY_FILES, TINY_LLAMA3 } from './support/localFixtures.js';
import { goldenPath } from './support/golden.js';

const mmlu = JSON.parse(readFileSync(goldenPath('mmlu.json'), 'utf8')).cases as {
  dataset_item_text: string;
  inputs: { persona: string };
}[];
const personas = ['abstract algebra expert', 'virology expert', 'nutrition expert', 'US foreign policy expert'];

function requests(format: 'llama3_chat' | 'plain'): OptionScoreRequest[] {
  return mmlu.flatMap((c) =>
    personas.map((persona) => {
      const user =
        'Please consider the following multiple-choice question and the four answer options A, B, C, and D.\n' +
        `Question: ${c.dataset_item_text}\nIf you were a ${persona}, which answer would you choose?`;
      return { prompt: { user, text: formatPrompt(format, { user }) }, options: ['A', 'B', 'C', 'D'] };
    }),
  );
}

afterAll(unloadLocalModels);

describe('LocalOnnxBackend', () => {
  it('scores options with full-vocabulary log-probs, equal with and without batching/prefix reuse', async () => {
    const fast = new LocalOnnxBackend({ path: TINY, format: 'llama3_chat', maxBatch: 8 });
    const slow = new LocalOnnxBackend({ path: TINY, format: 'llama3_chat', maxBatch: 1, prefixReuse: false });
    expect(fast.id).toBe('onnx:tiny-random-llama:fp32');
    const reqs = requests('llama3_chat');
    const [a, b] = [await fast.scoreOptions(reqs), await slow.scoreOptions(reqs)];
    expect(a).toHaveLength(reqs.length);
    a.forEach((o, i) => {
      if (!o.ok || !b[i]!.ok) throw new Error('failed');
      expect(o.value).toMatchObject({ method: 'logits', absent: [] });
      expect(o.value.logprobs).toHaveLength(4);
      expect(o.value.logprobs.every((x) => x < 0)).toBe(true);
      o.value.logprobs.forEach((x, j) => expect(Math.abs(x - (b[i] as typeof o).value.logprobs[j]!)).toBeLessThanOrEqual(1e-4));
    });
    // One session per process: both backends share the loaded model.
    expect(await fast.model()).toBe(await slow.model());
  });

  it('a bad request fails alone', async () => {
    const backend = new LocalOnnxBackend({ path: TINY, format: 'plain' });
    const reqs = requests('plain').slice(0, 3);
    reqs[1] = { ...reqs[1]!, options: ['A', 'Machine learning'] };
    const out = await backend.scoreOptions(reqs);
    expect(out.map((o) => o.ok)).toEqual([true, false, true]);
    expect(!out[1]!.ok && out[1]!.error.message).toMatch(/not a single token/);
    expect(!out[1]!.ok && out[1]!.error.kind).toBe('fatal');
  });

  it('generates: seeded sampling reproducible, greedy at temperature 0, stop strings cut', async () => {
    const backend = await LocalOnnxBackend.load({ path: TINY, variant: 'fp32', providers: ['cpu'], max_batch: 4 });
    const prompt = { user: 'Describe a bird.', text: formatPrompt('llama3_chat', { user: 'Describe a bird.' }) };
    const reqs = [
      { prompt, seed: 5, maxTokens: 10 },
      { prompt, seed: 5, maxTokens: 10 },
      { prompt, temperature: 0, maxTokens: 10 },
      { prompt, temperature: 0, maxTokens: 10, stop: ['e'] },
    ];
    const out = await backend.generate(reqs);
    const texts = out.map((o) => (o.ok ? o.value.text : o.error.message));
    expect(texts[0]).toBe(texts[1]);
    expect(texts[3]).toBe(texts[2]!.split('e')[0]);
    expect(texts[2]!.length).toBeGreaterThan(0);
  });

  it('refuses a format whose special tokens the tokenizer lacks', async () => {
    const dir = copyFixture('no-specials', TINY_FILES);
    const tok = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
    tok.added_tokens = tok.added_tokens.filter((t: { content: string }) => t.content !== '<|eot_id|>');
    writeFileSync(`${dir}/tokenizer.json`, JSON.stringify(tok));
    const backend = new LocalOnnxBackend({ path: dir, format: 'llama3_chat' });
    await expect(backend.preflight()).rejects.toThrow(/Prompt format "llama3_chat" needs the special token <\|eot_id\|>/);
    rmSync(dir, { recursive: true });
  });
});

describe.skipIf(!hasTinyLlama3 && !requireTinyLlama3)('LocalOnnxBackend on the real Llama-3 vocabulary', () => {
  beforeAll(assertTinyLlama3);

  it('scores A-D (ids 32..35) on llama3_chat prompts; batched + prefix reuse equals one at a time', async () => {
    const fast = new LocalOnnxBackend({ path: TINY_LLAMA3, format: 'llama3_chat', maxBatch: 16 });
    const slow = new LocalOnnxBackend({ path: TINY_LLAMA3, format: 'llama3_chat', maxBatch: 1, prefixReuse: false });
    expect(answerTokens((await fast.model()).tokenizer, ['A', 'B', 'C', 'D']).ids).toEqual([32, 33, 34, 35]);
    const reqs = requests('llama3_chat');
    const [a, b] = [await fast.scoreOptions(reqs), await slow.scoreOptions(reqs)];
    let worst = 0;
    a.forEach((o, i) => {
      const other = b[i]!;
      if (!o.ok || !other.ok) throw new Error('failed');
      o.value.logprobs.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - other.value.logprobs[j]!))));
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});
