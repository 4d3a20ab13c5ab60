/** Batching, left padding, position ids and shared-prefix reuse must not change the scores. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layoutStep, tile, type CacheState } from '../backends/onnx/forward.js';
import { loadLocalModel, unloadLocalModels, type LocalModel } from '../backends/onnx/model.js';
import { logSoftmax, nextTokenLogits, planBatches, splitByLength } from '../backends/onnx/scoring.js';
import { encodePrompt } from '../backends/onnx/tokens.js';
import { formatPrompt } from '../prompts/formats.js';
import { TINY } from './support/localFixtures.js';
import { loadRef, refLogits } from './support/refLlama.js';
import { goldenPath } from './support/golden.js';

const TEMPLATE =
  'Please consider the following multiple-choice question and the four answer options A, B, C, and D.\n' +
  'Question: {context}\nIf you were a {character}, which answer would you choose?';
const mmlu = JSON.parse(readFileSync(goldenPath('mmlu.json'), 'utf8')).cases as {
  dataset_item_text: string;
}[];
const PERSONAS = ['abstract algebra expert', 'nutrition expert', 'US foreign policy expert', 'virology expert', 'a'];

function prompt(context: string, character: string): string {
  const user = TEMPLATE.replace('{context}', () => context).replace('{character}', () => character);
  return formatPrompt('llama3_chat', { user });
}

/** Max |Δ| between the log-softmax rows of two runs. */
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((row, i) => {
    const [x, y] = [logSoftmax(row), logSoftmax(b[i]!)];
    for (let j = 0; j < x.length; j++) d = Math.max(d, Math.abs(x[j]! - y[j]!));
  });
  return d;
}

let model: LocalModel;
let seqs: number[][];
let single: Float32Array[];

beforeAll(async () => {
  model = await loadLocalModel({ path: TINY });
  // Interleave questions so batches must regroup them; different personas give different suffix lengths.
  seqs = PERSONAS.flatMap((p) => mmlu.map((c) => encodePrompt(model.tokenizer, prompt(c.dataset_item_text, p))));
  single = [];
  for (const s of seqs) single.push(...(await nextTokenLogits(model, [s], { maxBatch: 1, prefixReuse: false })));
});
afterAll(unloadLocalModels);

describe('batched and prefix-reused scores equal one-at-a-time scores', () => {
  it('batched with left padding: max |Δ log-prob| <= 1e-4 over the full vocabulary', async () => {
    const batched = await nextTokenLogits(model, seqs, { maxBatch: 7, prefixReuse: false });
    expect(maxDiff(batched, single)).toBeLessThanOrEqual(1e-4);
  });

  it('prefix reuse: max |Δ log-prob| <= 1e-4, and the prefix really is shared', async () => {
    const plan = planBatches(seqs, { maxBatch: 8, prefixReuse: true });
    expect(plan.every((b) => b.prefix > 0)).toBe(true);
    const reused = await nextTokenLogits(model, seqs, { maxBatch: 8, prefixReuse: true });
    expect(maxDiff(reused, single)).toBeLessThanOrEqual(1e-4);
  });

  it('one batch over all questions (short common prefix) also matches', async () => {
    const reused = await nextTokenLogits(model, seqs, { maxBatch: 64, prefixReuse: true });
    expect(maxDiff(reused, single)).toBeLessThanOrEqual(1e-4);
  });

  it('a later batch extends or truncates the cached prefix of an earlier one', async () => {
    const q = seqs[0]!.slice(0, seqs[0]!.length - 12); // a question's prompt without its persona tail
    const rows = (cut: number, tails: number[][]) => tails.map((t) => [...q.slice(0, cut), ...t]);
    const first = rows(q.length, [[5, 6], [7]]);
    const shorter = rows(q.length - 10, [[9, 9, 9], [8]]); // shares less than the cache: truncated
    const longer = rows(q.length, [[5, 6, 10, 11], [5, 6, 12]]); // shares more: extended
    for (const batch of [first, shorter, longer]) {
      const reused = await nextTokenLogits(model, batch, { maxBatch: 8, prefixReuse: true });
      const alone = [];
      for (const s of batch) alone.push(...(await nextTokenLogits(model, [s], { maxBatch: 1, prefixReuse: false })));
      expect(maxDiff(reused, alone)).toBeLessThanOrEqual(1e-4);
      expect(model.lastPrefix!.tokens).toEqual(batch[0]!.slice(0, planBatches(batch, { maxBatch: 8, prefixReuse: true })[0]!.prefix));
    }
  });

  it('fp16 variant: batched/prefix-reused stay close to its own single scores', async () => {
    const m16 = await loadLocalModel({ path: TINY, variant: 'fp16' });
    const alone = [];
    for (const s of seqs.slice(0, 6)) alone.push(...(await nextTokenLogits(m16, [s], { maxBatch: 1, prefixReuse: false })));
    const reused = await nextTokenLogits(m16, seqs.slice(0, 6), { maxBatch: 6, prefixReuse: true });
    expect(maxDiff(reused, alone)).toBeLessThan(2e-2);
  });
});

describe('left padding and position ids', () => {
  // RoPE only sees position differences, so a whole row shifted by its pad count scores the same: check the
  // layout itself, besides the logits.
  const rows2 = (l: { ids: BigInt64Array; positions: BigInt64Array; mask: Uint8Array }, width: number) => ({
    ids: chunk([...l.ids].map(Number), width),
    positions: chunk([...l.positions].map(Number), width),
  });
  const chunk = (xs: number[], n: number) => Array.from({ length: xs.length / n }, (_, i) => xs.slice(i * n, i * n + n));

  it('left pads get mask 0; positions are cumsum(mask) - 1 clipped at 0', () => {
    const l = layoutStep(null, [[5, 6, 7], [8]], 99);
    expect(rows2(l, 3)).toEqual({ ids: [[5, 6, 7], [99, 99, 8]], positions: [[0, 1, 2], [0, 0, 0]] });
    expect(chunk([...l.mask], 3)).toEqual([[1, 1, 1], [0, 0, 1]]);
    expect(l.seen).toEqual([3, 1]);
  });

  it('after a tiled prefix, pads sit between prefix and suffix and positions continue from the prefix', () => {
    const prefix: CacheState = { kv: {}, mask: Uint8Array.of(1, 1, 1, 1), batch: 1, length: 4, seen: [4] };
    const l = layoutStep(tile(prefix, 2), [[5, 6, 7], [8]], 99);
    expect(rows2(l, 3)).toEqual({ ids: [[5, 6, 7], [99, 99, 8]], positions: [[4, 5, 6], [3, 3, 4]] });
    expect(chunk([...l.mask], 7)).toEqual([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 1]]);
    // The next decoding step continues each row from its own count of real tokens.
    const next = layoutStep({ kv: {}, mask: l.mask, batch: 2, length: 7, seen: l.seen }, [[1], [2]], 99);
    expect([...next.positions].map(Number)).toEqual([7, 5]);
  });

  it('a batch of very different lengths matches the reference forward pass', async () => {
    const ref = loadRef(TINY);
    const long = seqs.find((s) => s.length > 200)!;
    const rows = [long.slice(0, 3), long, long.slice(0, 57), [long[0]!]];
    const got = await nextTokenLogits(model, rows, { maxBatch: 4, prefixReuse: false });
    rows.forEach((r, i) => {
      const expected = refLogits(ref, r).at(-1)!;
      let d = 0;
      for (let j = 0; j < expected.length; j++) d = Math.max(d, Math.abs(expected[j]! - got[i]![j]!));
      expect(d).toBeLessThan(1e-4);
    });
  });

  it('prefix reuse with suffixes of 1 and 150 tokens matches the reference', async () => {
    const ref = loadRef(TINY);
    const long = seqs.find((s) => s.length > 200)!;
    const rows = [long.slice(0, 41), long.slice(0, 190), long.slice(0, 60)];
    const plan = planBatches(rows, { maxBatch: 4, prefixReuse: true });
    // Suffixes of 1, 20 and 150 tokens: padding any two together costs more than a run, so each runs alone after the
    // one shared prefix (single rows continue from the cached prefix too).
    expect(plan).toEqual([
      { rows: [0], prefix: 40, tileRows: 1 },
      { rows: [2], prefix: 40, tileRows: 1 },
      { rows: [1], prefix: 40, tileRows: 1 },
    ]);
    const got = await nextTokenLogits(model, rows, { maxBatch: 4, prefixReuse: true });
    rows.forEach((r, i) => {
      const expected = refLogits(ref, r).at(-1)!;
      let d = 0;
      for (let j = 0; j < expected.length; j++) d = Math.max(d, Math.abs(expected[j]! - got[i]![j]!));
      expect(d).toBeLessThan(1e-4);
    });
  });
});

describe('planBatches', () => {
  const q = (n: number, tail: number[]) => [...Array.from({ length: 30 }, (_, i) => n * 100 + i), ...tail];

  it('groups prompts by shared prefix and splits at a question border', () => {
    const seqs = [q(1, [1]), q(2, [1]), q(1, [2, 3]), q(2, [2]), q(1, [3])];
    expect(planBatches(seqs, { maxBatch: 8, prefixReuse: true })).toEqual([
      { rows: [0, 4, 2], prefix: 30 }, // suffixes 1, 1, 2 tokens: one padded run is cheaper than two
      { rows: [1, 3], prefix: 30 },
    ]);
  });

  it('splits the suffixes of a shared prefix by length where the padding saved pays for a run', () => {
    const base = Array.from({ length: 30 }, (_, i) => 100 + i);
    const seqs = [5, 5, 30, 5, 31, 6].map((n, r) => [...base, ...Array.from({ length: n }, (_, i) => 1000 * r + i)]);
    // suffix lengths 5 5 30 5 31 6 (prefix 30): {5,5,5,6} padded to 6, {30,31} padded to 31.
    expect(planBatches(seqs, { maxBatch: 8, prefixReuse: true })).toEqual([
      { rows: [0, 1, 3, 5], prefix: 30, tileRows: 4 }, // the prefix is tiled once, for the larger group
      { rows: [2, 4], prefix: 30, tileRows: 4 },
    ]);
  });
  it('a lone row left over by maxBatch does not pull the next question into a template-only batch', () => {
    // A 10-token template, then a 30-token question: 4 personas of question 1, 3 of question 2, batches of 3.
    const template = Array.from({ length: 10 }, (_, i) => 900 + i);
    const question = (n: number, persona: number) => [...template, ...Array.from({ length: 30 }, (_, i) => n * 100 + i), 50 + persona];
    const seqs = [1, 2, 3, 4].map((p) => question(1, p)).concat([1, 2, 3].map((p) => question(2, p)));
    const plan = planBatches(seqs, { maxBatch: 3, prefixReuse: true });
    // Without the look-ahead the fourth persona of question 1 started a batch with question 2 sharing 10 tokens.
    expect(plan.map((b) => [b.rows, b.prefix])).toEqual([[[0, 1, 2], 40], [[3], 0], [[4, 5, 6], 40]]);
    // Prompts that share nothing with anything are still batched together (the look-ahead finds nothing better).
    const unrelated = [[5, 1, 2], [7, 3, 4, 9], [9, 8], [3, 3, 3]];
    expect(planBatches(unrelated, { maxBatch: 8, prefixReuse: true }).map((b) => b.rows.length)).toEqual([4]);
  });

  it('respects maxBatch and the token budget; never shares a row’s last token', () => {
    const seqs = [q(1, []), q(1, []), q(1, []), q(1, [5])];
    const plan = planBatches(seqs, { maxBatch: 3, prefixReuse: true });
    expect(plan.map((b) => b.rows.length)).toEqual([3, 1]);
    expect(plan[0]!.prefix).toBe(29);
    const noReuse = planBatches(seqs, { maxBatch: 4, prefixReuse: false, maxBatchTokens: 70 });
    expect(noReuse.map((b) => [b.rows.length, b.prefix])).toEqual([[2, 0], [2, 0]]);
  });
});

describe('splitByLength', () => {
  it('is exact: the least Σ rows × longest + run cost', () => {
    const lengths = [3, 9, 4, 9, 20, 3];
    const cost = (groups: number[][], run: number) =>
      groups.reduce((c, g) => c + g.length * Math.max(...g.map((i) => lengths[i]!)) + run, 0);
    // Brute force over every split of the sorted order (2^5 cut sets).
    const order = [0, 5, 2, 1, 3, 4];
    for (const run of [0, 5, 16, 1000]) {
      let best = Infinity;
      for (let mask = 0; mask < 32; mask++) {
        const groups: number[][] = [[order[0]!]];
        for (let i = 1; i < 6; i++) (mask & (1 << (i - 1)) ? groups.push([order[i]!]) : groups.at(-1)!.push(order[i]!));
        best = Math.min(best, cost(groups, run));
      }
      const got = splitByLength(lengths, run);
      expect(got.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(cost(got, run)).toBe(best);
    }
    expect(splitByLength(lengths, 0)).toEqual([[0, 5], [2], [1, 3], [4]]); // no padding at all
    expect(splitByLength(lengths, 1000)).toEqual([[0, 5, 2, 1, 3, 4]]); // plain padding
  });
});
