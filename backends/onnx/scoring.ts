/**
 * Next-token logits for many prompts: batched, left-padded, and with shared-prefix reuse. The MMLU template puts
 * the persona after the question, so the prompts of one question share everything up to "If you were a": that
 * prefix is run once (batch 1), and only the suffixes are run after it:
 *   - packed (a graph patched by graphPatch.ts, the Hugging Face exports): the suffixes run packed into a few long
 *     rows after the prefix cache, each seeing the prefix and itself only (packRows, packLayout);
 *   - tiled (any other graph): the prefix cache is tiled across a batch and the suffixes run in as few padded
 *     batches as pay for themselves (splitByLength: the persona names differ in length, and padding them costs
 *     ~20 % of the suffix tokens of the MMLU experts).
 */
import { firstRows, forwardLogits, forwardPacked, packLayout, prefill, tile, truncate, type CacheState } from './forward.js';
import type { LocalModel } from './model.js';

export interface BatchOptions {
  /** Most prompts per forward pass. */
  maxBatch: number;
  /** Run the longest common token prefix of a batch once. */
  prefixReuse: boolean;
  /** Most new tokens (rows x padded length) per forward pass; bounds activations and [batch, seq, vocab] logits. */
  maxBatchTokens?: number;
  /**
   * Run a shared prefix's suffixes as one sequence when the graph is patched for it (default true); false tiles
   * the prefix cache across a padded batch, as for an unpatched graph.
   */
  packing?: boolean;
  signal?: AbortSignal;
}

export interface Batch {
  /** Indices into the input, in the order the batch runs them. */
  rows: number[];
  /** Tokens shared by every row and run once (0 = no reuse). */
  prefix: number;
  /** Rows of the largest batch with this prefix (its groups are split by suffix length): the prefix is tiled once. */
  tileRows?: number;
}

/** Shorter prefixes than this are not worth a separate session run. */
const MIN_PREFIX = 8;
/**
 * What one more session run costs, in token positions: onnxruntime launches ~1,200 kernels per run of a 30-layer
 * model (~15 ms on 2 cores, about as long as 16 tokens take), and a small run uses the matmul kernels less well.
 * Suffix groups of a shared prefix are split where the padding saved is worth more than that.
 */
const RUN_COST_TOKENS = 16;
/** Without num_logits_to_keep the graph returns logits for every position: keep that tensor under ~256 MB. */
const LOGITS_BYTES = 256 * 2 ** 20;
/**
 * Most suffix tokens per packed run after a short prefix: a question's 57 persona suffixes (~1,000 tokens) in one
 * run, whose weight matmuls then run as well as the seed's big batches (0.91 ms per token in both, onnxruntime's
 * trace on biology). In ONE row, a run this long would compute and mask a block-diagonal attention that grows with
 * its square (1,024 tokens in one row: 29.1 cells/s on biology, 384: 33.6); packRows splits it into rows instead.
 */
const PACK_TOKENS = 1024;
/** Shortest packed row worth a row of its own (see packRows). */
const PACK_ROW = 160;
/**
 * After a prefix longer than this, suffixes run in ONE row, in runs of at most PACK_TOKENS_ONE_ROW: every row
 * of a multi-row run copies the prefix cache (Concat, GQA's Expand), and the prefix's keys, not the masked
 * block-diagonal, dominate its attention.
 */
const LONG_PREFIX = 320;
/**
 * Measured on SmolLM2-135M int8, 57 personas, one row (cells/s): biology 128: 30.5, 256: 34.8, 384: 33.6,
 * 512: 34.8, 1024: 29.1; european history 256: 24.3, 384: 26.2, 512: 23.9, 1024: 22.1 (±6 % run to run).
 */
const PACK_TOKENS_ONE_ROW = 384;

/**
 * Rows and the token budget of the packed runs after a prefix of `past` slots (see PACK_TOKENS and LONG_PREFIX).
 * Measured (bench/local.ts, SmolLM2-135M int8, 16 questions × 57 personas, prefix mode, cells/s, runs alternated
 * between the layouts): biology (prefix ~126 tokens) one row × 384: 34.0 (3 runs), 6 rows × 1,024: 36.4 (3 runs),
 * 3 rows: 34.8, 12 rows: 35.0, 19 rows: 34.6; european history (prefix ~400) one row × 384: 25.9 (5 runs),
 * 2–3 rows × 1,024: 23.1 (5 runs), 5 rows: 24.2 (3 runs), with 40 % more peak memory.
 */
export function packBudget(past: number): number {
  return past > LONG_PREFIX ? PACK_TOKENS_ONE_ROW : PACK_TOKENS;
}

/**
 * Rows for a packed run of suffixes of these lengths after a prefix of `past` slots: one after a long prefix,
 * else rows of about PACK_ROW slots (each row of L slots attends to past + L keys: shorter rows mask less of the
 * block-diagonal attention, more rows copy the prefix cache more often); of that count ±1, the one with the least
 * padding (packLayout) is taken.
 */
export function packRows(lengths: number[], past: number): number {
  if (past > LONG_PREFIX) return 1;
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const target = Math.max(1, Math.min(lengths.length, Math.round(tokens / PACK_ROW)));
  let best = target;
  let bestSlots = Infinity;
  for (const r of [target, target - 1, target + 1]) {
    if (r < 1 || r > lengths.length) continue;
    const slots = r * packLayout(lengths, r).seqLen;
    if (slots < bestSlots) [best, bestSlots] = [r, slots];
  }
  return best;
}

/** Logits of the token after each sequence, in input order. */
export async function nextTokenLogits(model: LocalModel, seqs: number[][], opts: BatchOptions): Promise<Float32Array[]> {
  const maxTokens = tokenBudget(model, opts);
  const packed = opts.prefixReuse && opts.packing !== false && model.packing !== undefined;
  const out = new Array<Float32Array>(seqs.length);
  const tiles: TileCache = {};
  for (const batch of planBatches(seqs, { ...opts, maxBatchTokens: maxTokens, packed })) {
    opts.signal?.throwIfAborted();
    const rows = batch.rows.map((i) => seqs[i]!);
    const logits = await batchLogits(model, rows, batch, maxTokens, tiles, packed);
    batch.rows.forEach((i, k) => (out[i] = logits[k]!));
  }
  return out;
}

/** The prefix cache tiled for the largest group of its rows, within one call: smaller groups take its first rows. */
interface TileCache {
  of?: CacheState;
  tiled?: CacheState;
}

async function batchLogits(model: LocalModel, rows: number[][], batch: Batch, maxTokens: number, tiles: TileCache, packed: boolean): Promise<Float32Array[]> {
  const { prefix } = batch;
  if (prefix === 0) return rows.length === 1 ? (await prefill(model, rows[0]!, maxTokens)).logits : forwardLogits(model, null, rows);
  const shared = await prefixState(model, rows[0]!.slice(0, prefix), maxTokens);
  const suffixes = rows.map((r) => r.slice(prefix));
  if (rows.length === 1) return forwardLogits(model, shared, suffixes);
  if (packed) {
    const logits: Float32Array[] = [];
    for (const chunk of packChunks(suffixes, balancedBudget(suffixes, Math.min(packBudget(shared.length), maxTokens)))) {
      const r = packRows(chunk.map((c) => c.length), shared.length);
      logits.push(...(await forwardPacked(model, r === 1 ? shared : tiledRows(tiles, shared, r), chunk, r)));
    }
    return logits;
  }
  return forwardLogits(model, tiledRows(tiles, shared, rows.length, batch.tileRows), suffixes);
}

/** `rows` rows of the prefix cache `shared`, from one tile per prefix (of `atLeast` rows when more are to come). */
function tiledRows(tiles: TileCache, shared: CacheState, rows: number, atLeast = 0): CacheState {
  if (tiles.of !== shared || tiles.tiled!.batch < rows) {
    tiles.tiled = undefined; // let the old tile go before the new one is allocated
    tiles.tiled = tile(shared, Math.max(rows, atLeast));
    tiles.of = shared;
  }
  return firstRows(tiles.tiled!, rows);
}

/**
 * A budget for packChunks that gives as many runs as `budget` would, of about equal size (1,225 tokens as
 * 613 + 612, not 1,024 + 201: a small run uses the matmul kernels less well). Greedy chunks of this budget are each
 * at least total / runs tokens, so there are no more of them.
 */
export function balancedBudget(suffixes: number[][], budget: number): number {
  const total = suffixes.reduce((n, s) => n + s.length, 0);
  const longest = Math.max(0, ...suffixes.map((s) => s.length));
  const runs = Math.ceil(total / budget);
  return runs <= 1 ? budget : Math.min(budget, Math.ceil(total / runs) + longest - 1);
}

/** Consecutive suffixes in runs of at most `budget` tokens (a longer suffix runs alone). */
export function packChunks(suffixes: number[][], budget: number): number[][][] {
  const chunks: number[][][] = [];
  let chunk: number[][] = [];
  let tokens = 0;
  for (const s of suffixes) {
    if (chunk.length && tokens + s.length > budget) {
      chunks.push(chunk);
      chunk = [];
      tokens = 0;
    }
    chunk.push(s);
    tokens += s.length;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

/**
 * The batch-1 cache of `prefix`, starting from the model's last prefix when they share at least MIN_PREFIX tokens
 * (57 personas of one question span several batches, and calls): truncated to the shared part, then extended.
 */
async function prefixState(model: LocalModel, prefix: number[], chunk: number): Promise<CacheState> {
  const last = model.lastPrefix;
  const shared = last ? commonPrefix(last.tokens, prefix) : 0;
  let state: CacheState | null = null;
  if (last && shared >= MIN_PREFIX) state = shared < last.tokens.length ? truncate(last.state, shared) : last.state;
  const done = state ? shared : 0;
  if (done < prefix.length) state = (await prefill(model, prefix.slice(done), chunk, false, state)).state;
  model.lastPrefix = { tokens: prefix, state: state! };
  return state!;
}

function tokenBudget(model: LocalModel, opts: BatchOptions): number {
  const budget = opts.maxBatchTokens ?? 2048;
  return model.io.logitsToKeep ? budget : Math.max(1, Math.min(budget, Math.floor(LOGITS_BYTES / (4 * model.vocabSize))));
}

/**
 * Groups sequences into batches. With prefix reuse they are sorted lexicographically, so prompts sharing a long
 * prefix are neighbours, and a batch is closed early when the next prompt would halve its common prefix (e.g. at
 * the border between two questions). Without reuse they are sorted by length to keep padding small.
 */
export function planBatches(seqs: number[][], opts: BatchOptions & { packed?: boolean }): Batch[] {
  const order = seqs.map((_, i) => i);
  order.sort(opts.prefixReuse ? (a, b) => compareTokens(seqs[a]!, seqs[b]!) : (a, b) => seqs[a]!.length - seqs[b]!.length);
  const maxTokens = opts.maxBatchTokens ?? Infinity;
  const batches: Batch[] = [];
  let rows: number[] = [];
  let prefix = 0;
  let longest = 0;
  const close = () => {
    const shared = usable(prefix, rows.length);
    if (!shared) {
      if (rows.length) batches.push({ rows, prefix: 0 });
    } else if (opts.packed) {
      batches.push({ rows, prefix: shared }); // packed suffixes are not padded: no split by length
    } else {
      const groups = splitByLength(rows.map((i) => seqs[i]!.length - shared), RUN_COST_TOKENS);
      const tileRows = Math.max(...groups.map((g) => g.length));
      for (const g of groups) batches.push({ rows: g.map((k) => rows[k]!), prefix: shared, ...(groups.length > 1 ? { tileRows } : {}) });
    }
    rows = [];
  };
  order.forEach((i, at) => {
    const seq = seqs[i]!;
    if (rows.length) {
      const first = seqs[rows[0]!]!;
      // The last token is never shared: its logits are what the row is for.
      const p = Math.min(prefix, commonPrefix(first, seq), seq.length - 1);
      const cost = (rows.length + 1) * (Math.max(longest, seq.length) - usable(p, rows.length + 1));
      // A lone row (the last persona of a question whose batch filled up) must not pull the next question's rows
      // into a batch that shares only the template: it stays alone when the next row shares twice as much with
      // its own successor.
      const next = order[at + 1];
      const ahead = rows.length === 1 && next !== undefined ? Math.min(commonPrefix(seq, seqs[next]!), seq.length - 1) : 0;
      const split = opts.prefixReuse && (usable(prefix, rows.length) > 0 ? p < prefix / 2 : ahead >= MIN_PREFIX && p < ahead / 2);
      if (rows.length >= opts.maxBatch || cost > maxTokens || split) close();
      else {
        rows.push(i);
        prefix = p;
        longest = Math.max(longest, seq.length);
        return;
      }
    }
    rows = [i];
    prefix = opts.prefixReuse ? seq.length - 1 : 0;
    longest = seq.length;
  });
  close();
  return batches;
}

/**
 * Splits rows of these suffix lengths into groups, each run as one padded batch, at the least total cost
 * Σ (rows × longest suffix of the group) + runCost per group: rows sorted by length, then an exact split by dynamic
 * programming (n ≤ maxBatch, so O(n²) is nothing). Returns indices into `lengths`, shortest group first; with a
 * huge runCost it is one group (plain padding), with 0 one group per distinct length (no padding).
 */
export function splitByLength(lengths: number[], runCost: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const n = order.length;
  const best = new Array<number>(n + 1).fill(Infinity);
  const from = new Array<number>(n + 1).fill(0);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = lengths[order[j - 1]!]!;
    for (let i = 0; i < j; i++) {
      const c = best[i]! + (j - i) * longest + runCost;
      if (c < best[j]!) [best[j], from[j]] = [c, i];
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = from[j]!) groups.unshift(order.slice(from[j]!, j));
  return groups;
}

function usable(prefix: number, rows: number): number {
  return rows > 1 && prefix >= MIN_PREFIX ? prefix : 0;
}

function commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function compareTokens(a: number[], b: number[]): number {
  const n = commonPrefix(a, b);
  if (n < a.length && n < b.length) return a[n]! - b[n]!;
  return a.length - b.length;
}

/** log Σ exp(logits) in float64: log-softmax(logits)[i] = logits[i] - logSumExp(logits). */
export function logSumExp(logits: Float32Array): number {
  // Indexed loops: iterators and Math.max calls made this the bottleneck at a 128k vocabulary.
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

export function logSoftmax(logits: Float32Array): Float64Array {
  const lse = logSumExp(logits);
  return Float64Array.from(logits, (x) => x - lse);
}
