import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { answerTokens, checkFormat, encodePrompt } from '../backends/onnx/tokens.js';
import { llama3TokenizerDir, TINY } from './support/localFixtures.js';
import { goldenPath } from './support/golden.js';

const goldenIds = JSON.parse(readFileSync(goldenPath('llama3_token_ids.json'), 'utf8')).by_sha256 as Record<
  string,
  { file: string; ids: number[] }
>;

interface Rendering {
  rendered: string;
  sha256_utf8: string;
  answer_token_ids?: Record<string, number>;
}

/** Every rendering (object with `rendered` + `sha256_utf8`) in a golden file. */
function renderings(node: unknown, out: Rendering[] = []): Rendering[] {
  if (Array.isArray(node)) node.forEach((n) => renderings(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.rendered === 'string' && typeof o.sha256_utf8 === 'string') out.push(o as unknown as Rendering);
    Object.values(o).forEach((n) => renderings(n, out));
  }
  return out;
}

const all = ['mmlu.json', 'bandit.json', 'clip_descriptions.json'].flatMap((f) =>
  renderings(JSON.parse(readFileSync(goldenPath(f), 'utf8'))),
);
const llama3 = all.filter((r) => goldenIds[r.sha256_utf8]);

describe('Llama-3 tokenization (real tokenizer, add_special_tokens=true)', () => {
  let tok: PreTrainedTokenizer;
  beforeAll(async () => {
    tok = await AutoTokenizer.from_pretrained(llama3TokenizerDir(), { local_files_only: true });
  });

  it('finds every golden rendering', () => {
    expect(new Set(llama3.map((r) => r.sha256_utf8))).toEqual(new Set(Object.keys(goldenIds)));
  });

  it.each(llama3.map((r) => [r.sha256_utf8.slice(0, 12), r] as const))('%s: ids equal the golden ids', (_, r) => {
    expect(createHash('sha256').update(r.rendered, 'utf8').digest('hex')).toBe(r.sha256_utf8);
    const ids = encodePrompt(tok, r.rendered);
    expect(ids.slice(0, 2)).toEqual([128000, 128000]); // the template's BOS and the tokenizer's
    expect(ids).toEqual(goldenIds[r.sha256_utf8]!.ids);
  });

  it('answer tokens are tokenizer(x).input_ids[-1] with no postfix', () => {
    expect(answerTokens(tok, ['A', 'B', 'C', 'D'])).toEqual({ ids: [32, 33, 34, 35], postfix: [] });
    expect(answerTokens(tok, ['1', '2'])).toEqual({ ids: [16, 17], postfix: [] });
    for (const r of llama3.filter((x) => x.answer_token_ids)) {
      const options = Object.keys(r.answer_token_ids!);
      expect(answerTokens(tok, options).ids).toEqual(Object.values(r.answer_token_ids!));
    }
  });

  it('rejects options that are not one token', () => {
    expect(() => answerTokens(tok, ['A', 'Machine learning'])).toThrow(/not a single token/);
  });

  it('accepts llama3_chat; a tokenizer without its special tokens is refused', async () => {
    expect(() => checkFormat(tok, 'llama3_chat', 'x')).not.toThrow();
    const fake = { ...tok, encode: (t: string) => [...t].map((c) => c.charCodeAt(0)) } as never;
    expect(() => checkFormat(fake, 'llama3_chat', '/m')).toThrow(/needs the special token <\|begin_of_text\|>.*\/m/);
  });
});

describe('SentencePiece-style options (seed postfix rule)', () => {
  // tokenizer("1") = [1, 29871, 29896] on Llama-1/2: the "▁" piece becomes the postfix token (SPEC §1.3).
  const spm = {
    all_special_ids: [1],
    encode: (t: string) => (t === 'A' ? [1, 319] : [1, 29871, t === '1' ? 29896 : 29906]),
    decode: (ids: number[]) => ids.map((i) => (i === 29871 ? ' ' : '?')).join(''),
  };
  it('derives postfix 29871 for "1"/"2" and none for "A"', () => {
    expect(answerTokens(spm as never, ['1', '2'])).toEqual({ ids: [29896, 29906], postfix: [29871] });
    expect(answerTokens(spm as never, ['A'])).toEqual({ ids: [319], postfix: [] });
    expect(() => answerTokens(spm as never, ['A', '1'])).toThrow(/different leading pieces/);
  });
});

describe('tiny fixture tokenizer', () => {
  it('adds BOS like the Llama-3 one and knows the llama3_chat special tokens', async () => {
    const tok = await AutoTokenizer.from_pretrained(TINY, { local_files_only: true });
    const ids = encodePrompt(tok, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>');
    expect(ids.slice(0, 3)).toEqual([0, 0, 2]);
    expect(() => checkFormat(tok, 'llama3_chat', TINY)).not.toThrow();
    expect(tok.get_vocab().size).toBe(512);
  });
});
