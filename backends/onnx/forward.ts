/**
 * One forward pass with a KV cache. Layout of a row after a step: [cached slots][pads][new tokens], i.e. each
 * step right-aligns its new tokens and puts the pads (mask 0) between the cache and them. With an empty cache
 * that is plain left padding; after a shared prefix it keeps the prefix in the same slots for every row.
 * Position ids are HF's cumsum(mask) - 1 clipped at 0, so real tokens count only real tokens before them.
 */
import * as ort from 'onnxruntime-node';
import { FatalBackendError } from '../types.js';
import type { LocalModel } from './model.js';

export interface CacheState {
  /** past_key_values.{i}.key|value tensors, [batch, kvHeads, length, headDim]. */
  kv: Record<string, ort.Tensor>;
  /** Attention mask of the cached slots, row-major [batch, length]. */
  mask: Uint8Array;
  batch: number;
  length: number;
  /** Per row: number of real tokens so far = position id of the next real token. */
  seen: number[];
}

export interface StepResult {
  /** Logits of the next token after each row's last new token (full vocabulary). */
  logits: Float32Array[];
  state: CacheState;
}

/**
 * Feeds each row's new tokens after `state` (which must have the same batch size) and grows the cache.
 * `withLogits: false` fetches only the cache: ORT still computes the logits of graphs without num_logits_to_keep
 * but skips copying [batch, seq, vocab] floats out (measured: 4x faster for a 500-token prefix, vocab 128k).
 */
export async function forward(
  model: LocalModel,
  state: CacheState | null,
  rows: number[][],
  withLogits = true,
): Promise<StepResult> {
  const { out, mask, seen, total } = await runStep(model, state, rows, withLogits ? undefined : model.cacheOutputs);
  const kv: Record<string, ort.Tensor> = {};
  for (let i = 0; i < model.io.layers; i++) {
    for (const part of ['key', 'value']) kv[`past_key_values.${i}.${part}`] = out[`present.${i}.${part}`]!;
  }
  const logits = withLogits ? lastLogits(model, out.logits!, rows.length) : [];
  return { logits, state: { kv, mask, batch: rows.length, length: total, seen } };
}

/**
 * The next-token logits of each row after `state`, when the grown cache is not needed (the last step of scoring):
 * only `logits` is fetched, so onnxruntime does not copy [batch, kvHeads, length, headDim] per layer out to JS
 * (with 57 personas and a 300-token question that is ~0.8 GB per pass on SmolLM2).
 */
export async function forwardLogits(model: LocalModel, state: CacheState | null, rows: number[][]): Promise<Float32Array[]> {
  const { out } = await runStep(model, state, rows, ['logits']);
  return lastLogits(model, out.logits!, rows.length);
}

async function runStep(model: LocalModel, state: CacheState | null, rows: number[][], fetches: string[] | undefined) {
  const { io } = model;
  const batch = rows.length;
  if (state && state.batch !== batch) throw new Error(`cache batch ${state.batch} != ${batch} rows`);
  const past = state?.length ?? 0;
  const { ids, mask, positions, seen } = layoutStep(state, rows, model.padId);
  const seqLen = ids.length / batch;
  const total = past + seqLen;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [batch, seqLen]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask, (m) => BigInt(m)), [batch, total]),
    position_ids: new ort.Tensor('int64', positions, [batch, seqLen]),
    ...(state?.kv ?? emptyCache(model, batch)),
  };
  // Only the last position's logits are read: models that can skip the others are told so.
  if (io.logitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
  // A patched graph (graphPatch.ts) takes what its export computed from these: the same values, made here.
  if (model.packing) {
    feeds[model.packing.bias] = new ort.Tensor('float32', stepBias(mask, batch, past, seqLen), [batch, 1, seqLen, total]);
    const kept = io.logitsToKeep ? [seqLen - 1] : Array.from({ length: seqLen }, (_, j) => j);
    feeds[model.packing.logitsIndex] = new ort.Tensor('int64', BigInt64Array.from(kept, BigInt), [kept.length]);
  }

  const real = rows.reduce((n, r) => n + r.length, 0);
  const out = await runSession(model, feeds, fetches, batch * seqLen, real);
  return { out, mask, seen, total };
}

/** One session run, counted in `forwardCounters` (`tokens` positions computed, `real` of them not padding); an
 * onnxruntime failure is fatal (a retry would fail the same way). */
async function runSession(
  model: LocalModel,
  feeds: Record<string, ort.Tensor>,
  fetches: string[] | undefined,
  tokens: number,
  real: number,
): Promise<ort.InferenceSession.ReturnType> {
  forwardCounters.tokens += tokens;
  forwardCounters.realTokens += real;
  forwardCounters.runs++;
  try {
    return await (fetches ? model.session.run(feeds, fetches) : model.session.run(feeds));
  } catch (e) {
    throw new FatalBackendError(`onnxruntime failed on ${model.onnxFile}: ${(e as Error).message}`);
  }
}

/** What the exports add to the attention scores where a query must not look (float32's lowest, not -inf: a row of
 * pads sees nothing, and a finite value keeps its softmax finite). */
const MASKED = -3.4028234663852886e38;

/**
 * The attention bias the export builds from the 2-D mask: query q of a row (at slot past + q) may look at slot k
 * when k <= past + q and the row's mask has 1 at k.
 */
export function stepBias(mask: Uint8Array, batch: number, past: number, seqLen: number): Float32Array {
  const total = past + seqLen;
  const bias = new Float32Array(batch * seqLen * total);
  for (let b = 0; b < batch; b++) {
    for (let q = 0; q < seqLen; q++) {
      const row = (b * seqLen + q) * total;
      for (let k = 0; k < total; k++) if (k > past + q || mask[b * total + k] === 0) bias[row + k] = MASKED;
    }
  }
  return bias;
}

/** Where each packed suffix sits: its row, its first slot (after its column's left padding) and its column. */
export interface PackLayout {
  rows: number;
  /** Slots per row (every row has the same: the columns' widths summed). */
  seqLen: number;
  /** The last slot of each column: every suffix of a column ends there, so one gather serves all rows. */
  ends: number[];
  /** Per suffix, in input order. */
  at: { row: number; start: number; column: number }[];
}

/**
 * Lays suffixes out in `rows` rows of equal length: sorted longest first, the suffixes go `rows` at a time into
 * columns as wide as their longest, each left-padded so that all of a column's suffixes end on its last slot.
 * One row is the plain packed sequence (no padding); more rows shorten each row, and with it the block-diagonal
 * attention that packing computes and masks, for a little padding.
 */
export function packLayout(lengths: number[], rows: number): PackLayout {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const at = new Array<PackLayout['at'][number]>(lengths.length);
  const ends: number[] = [];
  let seqLen = 0;
  for (let c = 0; c * rows < order.length; c++) {
    const group = order.slice(c * rows, (c + 1) * rows);
    const width = lengths[group[0]!]!;
    group.forEach((i, row) => (at[i] = { row, start: seqLen + width - lengths[i]!, column: c }));
    seqLen += width;
    ends.push(seqLen - 1);
  }
  return { rows, seqLen, ends, at };
}

/**
 * The next-token logits after each suffix, packed after the cached prefix `state` (a patched graph only; `state`
 * has `rows` identical rows, see packLayout): each suffix sees the prefix and its own earlier tokens (a
 * block-diagonal causal bias), its positions continue the prefix's, and the logits of its last token are gathered.
 * No cache is padded, and no suffix attends to another.
 */
export async function forwardPacked(model: LocalModel, state: CacheState, suffixes: number[][], rows = 1): Promise<Float32Array[]> {
  const { packing } = model;
  if (!packing) throw new Error('forwardPacked needs a patched graph');
  if (state.batch !== rows) throw new Error(`packed suffixes in ${rows} rows need a cache of ${rows} rows, not ${state.batch}`);
  const past = state.length;
  const layout = packLayout(suffixes.map((s) => s.length), rows);
  const { seqLen, ends } = layout;
  const total = past + seqLen;
  const ids = new BigInt64Array(rows * seqLen).fill(BigInt(model.padId));
  const positions = new BigInt64Array(rows * seqLen).fill(BigInt(state.seen[0]!));
  const bias = new Float32Array(rows * seqLen * total).fill(MASKED);
  const prefixRow = new Float32Array(past);
  for (let k = 0; k < past; k++) prefixRow[k] = state.mask[k] ? 0 : MASKED;
  // Every query sees the prefix (a padding slot too, so that no softmax row is all masked) ...
  for (let q = 0; q < rows * seqLen; q++) bias.set(prefixRow, q * total);
  // ... and a suffix's token its own suffix up to itself.
  suffixes.forEach((suffix, i) => {
    const { row, start } = layout.at[i]!;
    for (let j = 0; j < suffix.length; j++) {
      const q = row * seqLen + start + j;
      ids[q] = BigInt(suffix[j]!);
      positions[q] = BigInt(state.seen[0]! + j);
      bias.fill(0, q * total + past + start, q * total + past + start + j + 1);
    }
  });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [rows, seqLen]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * total).fill(1n), [rows, total]),
    position_ids: new ort.Tensor('int64', positions, [rows, seqLen]),
    ...state.kv,
    [packing.bias]: new ort.Tensor('float32', bias, [rows, 1, seqLen, total]),
    [packing.logitsIndex]: new ort.Tensor('int64', BigInt64Array.from(ends, BigInt), [ends.length]),
  };
  if (model.io.logitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
  const real = suffixes.reduce((n, s) => n + s.length, 0);
  const out = await runSession(model, feeds, ['logits'], rows * seqLen, real);
  const logits = out.logits!;
  const [b, kept, vocab] = logits.dims as [number, number, number];
  if (b !== rows || kept !== ends.length || vocab !== model.vocabSize) {
    throw new FatalBackendError(`${model.onnxFile}: packed logits [${logits.dims.join(', ')}], expected [${rows}, ${ends.length}, ${model.vocabSize}]`);
  }
  const data = logits.data as Float32Array;
  return layout.at.map(({ row, column }) => data.slice((row * kept + column) * vocab, (row * kept + column + 1) * vocab));
}

/** Token positions computed by `forward` in this process (padding included), the real tokens among them, and session
 * runs: for benchmarks. */
export const forwardCounters = { tokens: 0, realTokens: 0, runs: 0 };

export interface StepLayout {
  ids: BigInt64Array;
  /** [batch, past + seqLen]: the cached slots' mask, then 0 for pads and 1 for new tokens. */
  mask: Uint8Array;
  positions: BigInt64Array;
  seen: number[];
}

/** Input ids, attention mask and position ids (cumsum(mask) - 1, clipped at 0) of one step, row-major. */
export function layoutStep(state: CacheState | null, rows: number[][], padId: number): StepLayout {
  const batch = rows.length;
  const past = state?.length ?? 0;
  const seqLen = Math.max(...rows.map((r) => r.length));
  const total = past + seqLen;
  const ids = new BigInt64Array(batch * seqLen).fill(BigInt(padId));
  const mask = new Uint8Array(batch * total);
  const positions = new BigInt64Array(batch * seqLen);
  const seen = state ? [...state.seen] : new Array<number>(batch).fill(0);
  rows.forEach((row, b) => {
    if (state) mask.set(state.mask.subarray(b * past, (b + 1) * past), b * total);
    const pads = seqLen - row.length;
    for (let j = 0; j < seqLen; j++) {
      if (j >= pads) {
        ids[b * seqLen + j] = BigInt(row[j - pads]!);
        mask[b * total + past + j] = 1;
        seen[b]!++;
      }
      positions[b * seqLen + j] = BigInt(Math.max(seen[b]! - 1, 0));
    }
  });
  return { ids, mask, positions, seen };
}

/** Repeats a batch-1 cache `batch` times (the shared prefix of a batch of prompts). */
export function tile(state: CacheState, batch: number): CacheState {
  if (state.batch !== 1) throw new Error('only a batch-1 cache can be tiled');
  const kv: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(state.kv)) {
    const src = t.data as Float32Array | Uint16Array;
    // Every element is written below: skip the zero fill of a fresh typed array (hundreds of MB per question).
    const raw = Buffer.allocUnsafeSlow(src.byteLength * batch);
    const Ctor = src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor;
    const dst = new Ctor(raw.buffer, raw.byteOffset, src.length * batch);
    for (let b = 0; b < batch; b++) dst.set(src, b * src.length);
    kv[name] = new ort.Tensor(t.type as 'float32', dst as Float32Array, [batch, ...t.dims.slice(1)]);
  }
  const mask = new Uint8Array(state.length * batch);
  for (let b = 0; b < batch; b++) mask.set(state.mask, b * state.length);
  return { kv, mask, batch, length: state.length, seen: new Array<number>(batch).fill(state.seen[0]!) };
}

/** The first `rows` rows of a cache, as views (no copy): a prefix tiled once for its largest group serves the others. */
export function firstRows(state: CacheState, rows: number): CacheState {
  if (rows === state.batch) return state;
  if (rows > state.batch) throw new Error(`cache has ${state.batch} rows, ${rows} asked`);
  const kv: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(state.kv)) {
    const data = t.data as Float32Array | Uint16Array;
    const per = data.length / state.batch;
    kv[name] = new ort.Tensor(t.type as 'float32', data.subarray(0, rows * per) as Float32Array, [rows, ...t.dims.slice(1)]);
  }
  const mask = state.mask.subarray(0, rows * state.length);
  return { kv, mask, batch: rows, length: state.length, seen: state.seen.slice(0, rows) };
}

/** The cache of the first `length` slots of a batch-1 cache (causal: they do not depend on later tokens). */
export function truncate(state: CacheState, length: number): CacheState {
  if (state.batch !== 1) throw new Error('only a batch-1 cache can be truncated');
  const kv: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(state.kv)) {
    const [, heads, past, dim] = t.dims as [number, number, number, number];
    const src = t.data as Float32Array | Uint16Array;
    const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(heads * length * dim);
    for (let h = 0; h < heads; h++) dst.set(src.subarray(h * past * dim, (h * past + length) * dim), h * length * dim);
    kv[name] = new ort.Tensor(t.type as 'float32', dst as Float32Array, [1, heads, length, dim]);
  }
  const mask = state.mask.slice(0, length);
  return { kv, mask, batch: 1, length, seen: [mask.reduce((a, m) => a + m, 0)] };
}

/**
 * Runs one sequence through the model in pieces of at most `chunk` tokens, so that models without
 * `num_logits_to_keep` never materialise [length, vocab] logits for a long prompt at once.
 */
export async function prefill(
  model: LocalModel,
  tokens: number[],
  chunk: number,
  withLogits = true,
  from: CacheState | null = null,
): Promise<StepResult> {
  let step: StepResult | undefined;
  for (let i = 0; i < tokens.length; i += chunk) {
    const last = i + chunk >= tokens.length;
    step = await forward(model, step?.state ?? from, [tokens.slice(i, i + chunk)], withLogits && last);
  }
  if (!step) throw new Error('prefill of an empty sequence');
  return step;
}

function emptyCache(model: LocalModel, batch: number): Record<string, ort.Tensor> {
  const { layers, kvHeads, headDim, kvType } = model.io;
  const kv: Record<string, ort.Tensor> = {};
  for (let i = 0; i < layers; i++) {
    for (const part of ['key', 'value']) {
      const data = kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
      kv[`past_key_values.${i}.${part}`] = new ort.Tensor(kvType, data, [batch, kvHeads, 0, headDim]);
    }
  }
  return kv;
}

function lastLogits(model: LocalModel, logits: ort.Tensor, batch: number): Float32Array[] {
  const [, positions, vocab] = logits.dims as [number, number, number];
  if (vocab !== model.vocabSize) {
    throw new FatalBackendError(
      `Vocabulary size mismatch: ${model.onnxFile} produced ${vocab} logits but config.json says ${model.vocabSize}.`,
    );
  }
  const rows: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const start = (b * positions + positions - 1) * vocab;
    const data = logits.data as Float32Array | Uint16Array;
    rows.push(data instanceof Uint16Array ? halfToFloat(data.subarray(start, start + vocab)) : data.slice(start, start + vocab));
  }
  return rows;
}

/** IEEE 754 binary16 -> float32 (Node 20 has no Float16Array). */
export function halfToFloat(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] =
      exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}
