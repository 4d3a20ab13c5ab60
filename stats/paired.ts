/**
 * Paired comparisons of two personas on the same items: the exact McNemar test on the discordant pairs, a paired
 * bootstrap interval of the accuracy difference that resamples whole questions (clusters), and Holm and
 * Benjamini–Hochberg adjusted p-values for a family of such tests. Pure functions; the binomial CDF is stdlib's.
 */
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import { streamFor, type StreamKey } from '../tasks/bandit/rng.js';
import type { Interval } from './intervals.js';

/** One item scored for both personas; `cluster` is the question it belongs to (samples of one question share it). */
export interface PairedOutcome {
  cluster: string;
  a: boolean;
  b: boolean;
}

export interface McNemarResult {
  /** Items right for a and wrong for b. */
  onlyA: number;
  /** Items wrong for a and right for b. */
  onlyB: number;
  /** Two-sided exact p-value: 2 · P(X ≤ min(onlyA, onlyB)) for X ~ Binomial(onlyA + onlyB, 1/2), capped at 1. */
  p: number;
}

/** Exact (binomial) McNemar test; p = 1 when there are no discordant pairs. */
export function mcnemarExact(onlyA: number, onlyB: number): McNemarResult {
  for (const k of [onlyA, onlyB]) if (!Number.isInteger(k) || k < 0) throw new RangeError(`McNemar counts must be non-negative integers, got ${onlyA}, ${onlyB}`);
  const n = onlyA + onlyB;
  const p = n === 0 ? 1 : Math.min(1, 2 * binomialCdf(Math.min(onlyA, onlyB), n, 0.5));
  return { onlyA, onlyB, p };
}

export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number;
  /** Seed of the resampling stream; with the same seed and keys the interval is the same on every machine. */
  seed?: StreamKey;
  /** Extra keys of the stream (e.g. the two persona names), so each comparison draws its own numbers. */
  keys?: StreamKey[];
  /** Two-sided level (default 0.95). */
  level?: number;
}

export interface PairedDifference {
  /** Items scored for both. */
  n: number;
  /** Questions (clusters) among them. */
  clusters: number;
  /** accuracy(a) − accuracy(b) over the paired items. */
  diff: number;
  /** Percentile interval of the difference over question-level resamples; null with fewer than 2 questions. */
  ci95: Interval | null;
}

/**
 * Accuracy difference a − b with a cluster (question-level) paired bootstrap: each resample draws as many questions
 * as there are, with replacement, and takes Σ(a − b) / Σ n over the drawn questions (Efron & Tibshirani 1993 §6;
 * clustered as in Field & Welsh 2007). Percentile interval, type-7 quantiles.
 */
export function pairedBootstrapDiff(outcomes: readonly PairedOutcome[], opts: BootstrapOptions = {}): PairedDifference {
  const index = new Map<string, number>();
  for (const o of outcomes) if (!index.has(o.cluster)) index.set(o.cluster, index.size);
  const d = new Float64Array(index.size);
  const n = new Float64Array(index.size);
  for (const o of outcomes) {
    const i = index.get(o.cluster)!;
    d[i]! += Number(o.a) - Number(o.b);
    n[i]! += 1;
  }
  return bootstrapFamily([{ d, n }], opts)[0]!;
}

/** Per-cluster sums of one comparison over a shared list of clusters: Σ(a − b) and the paired items (0 if none). */
export interface ClusterSums {
  d: Float64Array;
  n: Float64Array;
}

/**
 * The same bootstrap for a family of comparisons over the same questions, with common resamples (each resample's
 * drawn questions serve every comparison): one pass over the questions per resample, so a full MMLU run's few hundred
 * comparisons stay cheap. A cluster without items of a comparison counts as drawn but adds nothing.
 */
export function bootstrapFamily(family: readonly ClusterSums[], opts: BootstrapOptions = {}): PairedDifference[] {
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const k = family[0]?.d.length ?? 0;
  if (family.some((f) => f.d.length !== k || f.n.length !== k)) throw new RangeError('every comparison needs one sum per cluster');
  const base = family.map((f) => {
    let d = 0, n = 0, clusters = 0;
    for (let i = 0; i < k; i++) {
      d += f.d[i]!;
      n += f.n[i]!;
      if (f.n[i]! > 0) clusters++;
    }
    return { n, clusters, diff: n === 0 ? NaN : d / n };
  });
  const stats = family.map(() => new Float64Array(resamples));
  const rng = streamFor(opts.seed ?? 2016, 'paired-bootstrap', ...(opts.keys ?? []));
  // Each resample is a multiplicity per cluster; a comparison's sums are then dot products with it, over the
  // clusters where a and b differ (usually a minority) and, only when clusters hold unequal numbers of items, over n.
  const sparse = family.map((f) => {
    const at: number[] = [];
    for (let i = 0; i < k; i++) if (f.d[i] !== 0) at.push(i);
    const idx = Int32Array.from(at);
    const n1 = f.n.every((x) => x === 1);
    return { idx, val: Float64Array.from(at, (i) => f.d[i]!), n1 };
  });
  const w = new Int32Array(k);
  for (let r = 0; r < resamples && k >= 2; r++) {
    w.fill(0);
    // 32 random bits per draw: the bias of floor(u32 · k / 2³²) is below k / 2³², far under the bootstrap noise.
    for (let i = 0; i < k; i++) w[Math.floor((rng.nextU32() * k) / 4294967296)]!++;
    for (let j = 0; j < family.length; j++) {
      const { idx, val, n1 } = sparse[j]!;
      let d = 0;
      for (let t = 0; t < idx.length; t++) d += val[t]! * w[idx[t]!]!;
      let n = k;
      if (!n1) {
        n = 0;
        const fn = family[j]!.n;
        for (let i = 0; i < k; i++) n += fn[i]! * w[i]!;
      }
      stats[j]![r] = n === 0 ? NaN : d / n;
    }
  }
  const alpha = (1 - level) / 2;
  return base.map((b, j) => {
    if (b.clusters < 2) return { ...b, ci95: null };
    // A resample that drew only empty clusters of this comparison has no difference: leave it out.
    const sorted = stats[j]!.filter((x) => !Number.isNaN(x)).sort();
    return { ...b, ci95: [quantileSorted(sorted, alpha), quantileSorted(sorted, 1 - alpha)] as Interval };
  });
}

/** Type-7 (linear interpolation) quantile of sorted values, as R's default and numpy's. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Holm's step-down adjusted p-values (Holm 1979), in the input order. */
export function holmAdjust(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** Benjamini–Hochberg step-up adjusted p-values (false discovery rate, BH 1995), in the input order. */
export function bhAdjust(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(m);
  let running = 1;
  for (let k = m - 1; k >= 0; k--) {
    const [p, i] = order[k]!;
    running = Math.min(running, (m * p) / (k + 1));
    out[i] = running;
  }
  return out;
}
