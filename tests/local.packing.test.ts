/**
 * Packed prefix reuse (backends/onnx/graphPatch.ts, forward.ts forwardPacked): the Hugging Face export patched to
 * take its attention bias and kept logits positions as inputs. Checked on the real model: the patch finds the two
 * tensors; the patched graph fed the bias the export would have built gives the export's own logits (single,
 * padded batch, generation); packed suffixes (in one row or several) give the same log-probs as one prompt at a time and as the tiled path,
 * with no padding and one run per prefix; packing in chunks changes nothing. Equivalence on the weight-only int8 variant
 * (batch-invariant, see local.shared-model.test.ts); the shipped int8 graph is checked for the patch itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchForPacking } from '../backends/onnx/graphPatch.js';
import { forwardCounters, forwardPacked, packLayout, prefill, stepBias, tile } from '../backends/onnx/forward.js';
import { generateTokens } from '../backends/onnx/generate.js';
import { loadLocalModel, unloadLocalModels, type LocalModel } from '../backends/onnx/model.js';
import { balancedBudget, logSoftmax, nextTokenLogits, packBudget, packChunks, packRows, type BatchOptions } from '../backends/onnx/scoring.js';
import { SMOLLM2, SMOLLM2_W8, TINY, realModelOrFail } from './support/localFixtures.js';

const REAL = realModelOrFail();
const MASKED = -3.4028234663852886e38;

afterAll(unloadLocalModels);

describe('stepBias and packChunks', () => {
  it('stepBias is the export\'s causal × padding mask: 0 where slot k ≤ past + q and the row\'s mask is 1', () => {
    // Two rows, 2 cached slots, 2 new tokens; row 1 has a pad in its first new slot.
    const mask = Uint8Array.from([1, 1, 1, 1, /* row 1 */ 1, 1, 0, 1]);
    const bias = stepBias(mask, 2, 2, 2);
    const z = 0;
    const m = MASKED;
    expect([...bias]).toEqual([z, z, z, m, z, z, z, z, /* row 1 */ z, z, m, m, z, z, m, z]);
  });

  it('packChunks keeps order, stays within the budget, and gives an over-long suffix a run of its own', () => {
    const s = (n: number) => Array.from({ length: n }, (_, i) => i);
    const chunks = packChunks([s(3), s(4), s(2), s(9), s(1)], 7);
    expect(chunks.map((c) => c.map((x) => x.length))).toEqual([[3, 4], [2], [9], [1]]);
    expect(packChunks([], 7)).toEqual([]);
  });
});

describe('packLayout, packRows and balancedBudget', () => {
  it('packLayout: longest first, `rows` per column, each left-padded to end on its column\'s last slot', () => {
    const l = packLayout([3, 5, 2, 5, 1], 2);
    // Sorted: 5 (#1), 5 (#3), 3 (#0), 2 (#2), 1 (#4); columns of widths 5, 3, 1.
    expect(l.seqLen).toBe(9);
    expect(l.ends).toEqual([4, 7, 8]);
    expect(l.at).toEqual([
      { row: 0, start: 5, column: 1 },
      { row: 0, start: 0, column: 0 },
      { row: 1, start: 6, column: 1 },
      { row: 1, start: 0, column: 0 },
      { row: 0, start: 8, column: 2 },
    ]);
    // Every suffix ends on its column's end.
    l.at.forEach((a, i) => expect(a.start + [3, 5, 2, 5, 1][i]! - 1).toBe(l.ends[a.column]));
    // One row is the plain packed sequence: no padding.
    expect(packLayout([3, 5, 2], 1).seqLen).toBe(10);
  });

  it('packRows: rows of about 160 slots (one after a long prefix), the count ±1 with the least padding', () => {
    const same = (n: number, len: number) => new Array<number>(n).fill(len);
    expect(packRows(same(57, 18), 126)).toBe(6); // 1,026 tokens / 160 → 6 (60 slots; 5 rows pad as much, 7 rows more)
    expect(packRows(same(57, 18), 400)).toBe(1); // after a long prefix: one row, in runs of 384 tokens
    expect([packBudget(126), packBudget(400)]).toEqual([1024, 384]);
    expect(packRows(same(7, 5), 50)).toBe(1); // a small run stays one row
    expect(packRows(same(60, 10), 100)).toBe(4); // target 4 (600 / 160): 60 = 15 × 4, no padding
    expect(packRows([9], 0)).toBe(1);
  });

  it('balancedBudget: as many runs as the budget gives, of about equal size', () => {
    const s = (n: number, len: number) => Array.from({ length: n }, () => new Array<number>(len).fill(1));
    const suffixes = s(49, 25); // 1,225 tokens
    expect(packChunks(suffixes, 1024).map((c) => c.length)).toEqual([40, 9]);
    expect(packChunks(suffixes, balancedBudget(suffixes, 1024)).map((c) => c.length)).toEqual([25, 24]);
    expect(balancedBudget(s(10, 5), 1024)).toBe(1024);
  });
});

describe('patchForPacking', () => {
  it('finds the mask and the kept positions in the shipped int8 export; renames their producers in place', () => {
    const bytes = readFileSync(join(SMOLLM2, 'onnx/model_int8.onnx'));
    const before = bytes.length;
    const r = patchForPacking(bytes);
    expect('inputs' in r && r.inputs).toEqual({ bias: '/Where_output_0', logitsIndex: '/Range_2_output_0' });
    if (!('tail' in r)) return;
    // The original keeps its length (same-length names); the patched model is it plus one small graph field.
    expect(bytes.length).toBe(before);
    expect(r.tail.length).toBeGreaterThan(0);
    expect(r.tail.length).toBeLessThan(200);
    expect(bytes.includes('/Where_output_~')).toBe(true);
    expect(bytes.includes('/Range_2_output_~')).toBe(true);
  });

  it('leaves a graph without the pattern alone, with the reason, and never throws on garbage', () => {
    const tiny = patchForPacking(readFileSync(join(TINY, 'onnx/model.onnx')));
    expect(tiny).toEqual({ reason: 'a Softmax whose input is not an Add of scores and mask' });
    const junk = patchForPacking(Buffer.from('this is not a protobuf model at all, just text'));
    expect('reason' in junk).toBe(true);
  });

  it.runIf(REAL)('the tiny model loads unpatched and says why; the real one loads patched', async () => {
    const tiny = await loadLocalModel({ path: TINY });
    expect(tiny.packing).toBeUndefined();
    expect(tiny.packingNote).toBe('the weights are external data'); // loaded by path, as it is
    const real = await loadLocalModel({ path: SMOLLM2, variant: 'int8' });
    expect(real.packing).toEqual({ bias: '/Where_output_0', logitsIndex: '/Range_2_output_0' });
  });
});

describe.runIf(REAL)('packed prefix reuse on SmolLM2-135M (weight-only int8)', () => {
  let patched: LocalModel;
  let plain: LocalModel;
  /** Three prefixes of different lengths, 7 suffixes each (1 to 9 tokens), and one prompt sharing nothing. */
  const seqs: number[][] = [];
  beforeAll(async () => {
    patched = await loadLocalModel({ path: SMOLLM2_W8, variant: 'w8' });
    plain = await loadLocalModel({ path: SMOLLM2_W8, variant: 'w8', patchGraph: false });
    let seed = 3;
    const token = () => ((seed = (seed * 16807) % 2147483647) % 30000) + 100;
    for (let q = 0; q < 3; q++) {
      const prefix = Array.from({ length: 40 + 30 * q }, token);
      for (let p = 0; p < 7; p++) seqs.push([...prefix, ...Array.from({ length: 1 + ((p * 5) % 9) }, token)]);
    }
    // (Its tokens sort after the others: a lone prompt that sorts first joins the next question's batch unshared.)
    seqs.push(Array.from({ length: 12 }, () => 40000 + (token() % 9000)));
  });

  const logprobs = async (model: LocalModel, opts: BatchOptions) => (await nextTokenLogits(model, seqs, opts)).map((l) => logSoftmax(l));
  const gap = (a: Float64Array[], b: Float64Array[]) => Math.max(...a.map((row, i) => row.reduce((m, x, k) => Math.max(m, Math.abs(x - b[i]![k]!)), 0)));

  it('the patched graph fed stepBias gives the export\'s own logits: one at a time exactly, padded batches ≤ 1e-5', async () => {
    expect(patched.packing).toBeDefined();
    expect(plain.packing).toBeUndefined();
    const single = { maxBatch: 1, prefixReuse: false };
    expect(gap(await logprobs(patched, single), await logprobs(plain, single))).toBe(0);
    const batched = { maxBatch: 64, prefixReuse: false };
    expect(gap(await logprobs(patched, batched), await logprobs(plain, batched))).toBeLessThanOrEqual(1e-5);
  });

  it('packed = one at a time = tiled (≤ 1e-4), with no padding, one run per prefix', async () => {
    const single = await logprobs(plain, { maxBatch: 1, prefixReuse: false });
    const count = async (opts: BatchOptions) => {
      const before = { ...forwardCounters };
      const lp = await logprobs(patched, opts);
      return { lp, tokens: forwardCounters.tokens - before.tokens, real: forwardCounters.realTokens - before.realTokens, runs: forwardCounters.runs - before.runs };
    };
    patched.lastPrefix = undefined;
    const packed = await count({ maxBatch: 64, prefixReuse: true });
    patched.lastPrefix = undefined;
    const tiled = await count({ maxBatch: 64, prefixReuse: true, packing: false });
    expect(gap(packed.lp, single)).toBeLessThanOrEqual(1e-4);
    expect(gap(tiled.lp, single)).toBeLessThanOrEqual(1e-4);
    expect(packed.tokens).toBe(packed.real);
    expect(tiled.tokens).toBeGreaterThan(tiled.real); // the tiled path pads its length groups
    // Per prefix: one prefill and one packed run; and the prompt that shares nothing.
    expect(packed.runs).toBe(3 * 2 + 1);
    expect(tiled.runs).toBeGreaterThanOrEqual(packed.runs); // (here its length split keeps one padded group each)
  });

  it('suffixes packed in one run or in several give the same logits (chunks are independent)', async () => {
    const prefix = seqs[7]!.slice(0, 70);
    const suffixes = seqs.slice(7, 14).map((s) => s.slice(70));
    const state = (await prefill(patched, prefix, 2048, false)).state;
    const whole = await forwardPacked(patched, state, suffixes);
    const parts = [...(await forwardPacked(patched, state, suffixes.slice(0, 3))), ...(await forwardPacked(patched, state, suffixes.slice(3)))];
    expect(gap(whole.map((l) => logSoftmax(l)), parts.map((l) => logSoftmax(l)))).toBeLessThanOrEqual(1e-4);
    const alone = await forwardPacked(patched, state, [suffixes[4]!]);
    expect(gap([logSoftmax(alone[0]!)], [logSoftmax(whole[4]!)])).toBeLessThanOrEqual(1e-4);
  });

  it('packed in several rows (a tiled prefix, left-padded columns) = one at a time (≤ 1e-4), in one run', async () => {
    let seed = 11;
    const token = () => ((seed = (seed * 16807) % 2147483647) % 30000) + 100;
    const prefix = Array.from({ length: 60 }, token);
    const many = Array.from({ length: 30 }, (_, p) => [...prefix, ...Array.from({ length: 20 + ((p * 7) % 11) }, token)]);
    const suffixTokens = many.reduce((n, s) => n + s.length - 60, 0);
    const rows = packRows(many.map((s) => s.length - 60), 60);
    expect(rows).toBeGreaterThan(1);
    patched.lastPrefix = undefined;
    const before = { ...forwardCounters };
    const packed = (await nextTokenLogits(patched, many, { maxBatch: 64, prefixReuse: true })).map((l) => logSoftmax(l));
    const runs = forwardCounters.runs - before.runs;
    const tokens = forwardCounters.tokens - before.tokens;
    const single = (await nextTokenLogits(plain, many, { maxBatch: 1, prefixReuse: false })).map((l) => logSoftmax(l));
    expect(gap(packed, single)).toBeLessThanOrEqual(1e-4);
    expect(runs).toBe(2); // the prefix, then all 30 suffixes in one run of `rows` rows
    expect(tokens - 60).toBe(rows * packLayout(many.map((s) => s.length - 60), rows).seqLen);
    expect(tokens - 60).toBeLessThan(1.15 * suffixTokens); // a little padding, not a tile per suffix
    // forwardPacked directly: 3 rows and 1 row agree.
    const state = (await prefill(patched, prefix, 2048, false)).state;
    const suffixes = many.map((s) => s.slice(60));
    const one = await forwardPacked(patched, state, suffixes);
    const three = await forwardPacked(patched, tile(state, 3), suffixes, 3);
    expect(gap(one.map((l) => logSoftmax(l)), three.map((l) => logSoftmax(l)))).toBeLessThanOrEqual(1e-4);
    await expect(forwardPacked(patched, state, suffixes, 3)).rejects.toThrow(/cache of 3 rows, not 1/);
  });

  it('greedy generation on the patched graph gives the export\'s tokens (padded batch, KV steps)', async () => {
    const prompts = [seqs[0]!, seqs[10]!.slice(0, 20), seqs[21]!];
    const params = prompts.map(() => ({ maxNewTokens: 8, stop: [], temperature: 0, topK: 0, topP: 1 }));
    const opts = { maxBatch: 3, stopIds: [] };
    const a = await generateTokens(patched, prompts, params, opts);
    const b = await generateTokens(plain, prompts, params, opts);
    expect(a.map((g) => g.tokens)).toEqual(b.map((g) => g.tokens));
    expect(a.every((g) => g.tokens.length === 8)).toBe(true);
  });
});
