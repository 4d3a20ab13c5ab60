/**
 * CLIP token ids (backends/clip/tokens.ts through transformers.js on the fixture's tokenizer.json, built from the
 * BPE vocabulary of open_clip's wheel) against clip_tokens.json: ids, the seed's 77 cut, pool index, padding.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cutTokens, loadClipTokenizer, padBatch, poolIndex, type ClipTokenizer } from '../backends/clip/tokens.js';
import { TINY_CLIP, tinyClipOrFail } from './support/clipFixtures.js';
import { golden } from './support/golden.js';

interface Case {
  text: string;
  ids: number[];
  n: number;
  ids_77: number[];
  pool_index: number;
  truncated: boolean;
}
const GOLD = golden<{ bos: number; eos_pad: number; cases: Case[]; padded_batch_first4: number[][] }>('clip_tokens.json');

describe.runIf(tinyClipOrFail())('CLIP tokens equal the golden ids', () => {
  let tok: ClipTokenizer;
  beforeAll(async () => {
    tok = await loadClipTokenizer(TINY_CLIP);
  });

  it('start, end and pad tokens come from the tokenizer', () => {
    expect([tok.bos, tok.eos, tok.pad]).toEqual([GOLD.bos, GOLD.eos_pad, GOLD.eos_pad]);
  });

  it.each(GOLD.cases)('$text', (c) => {
    const ids = tok.encode(c.text);
    expect(ids).toEqual(c.ids);
    expect(ids.length).toBe(c.n);
    const seed = cutTokens(ids, 'seed', 77, tok.eos);
    expect(seed.ids).toEqual(c.ids_77);
    expect(seed.poolIndex).toBe(c.pool_index);
    expect(poolIndex(c.ids_77)).toBe(c.pool_index);
    expect(seed.truncated).toBe(c.truncated);
    expect(seed.tokens).toBe(c.n);
    const eos = cutTokens(ids, 'eos', 77, tok.eos);
    if (c.truncated) {
      // open_clip: 76 tokens, then the end token, which is where the model pools.
      expect(eos.ids).toEqual([...c.ids.slice(0, 76), GOLD.eos_pad]);
      expect(eos.poolIndex).toBe(76);
      expect(seed.poolIndex).toBe(0);
    } else {
      expect(eos.ids).toEqual(c.ids);
    }
  });

  it('at least one golden text is cut', () => {
    expect(GOLD.cases.some((c) => c.truncated)).toBe(true);
  });

  it('pads a batch to the longest with the end token', () => {
    const rows = GOLD.cases.slice(0, 4).map((c) => tok.encode(c.text));
    expect(padBatch(rows, tok.pad)).toEqual(GOLD.padded_batch_first4);
  });
});
