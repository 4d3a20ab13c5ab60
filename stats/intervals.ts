/**
 * Interval estimates used by the analyses: Wilson score interval for one accuracy, Student-t interval for a mean of
 * per-task accuracies. The distribution functions come from stdlib (@stdlib/stats-base-dists-*: maintained, typed,
 * tested against R/SciPy reference values) rather than from hand-written special functions.
 */
import tQuantileLib from '@stdlib/stats-base-dists-t-quantile';
import normalQuantileLib from '@stdlib/stats-base-dists-normal-quantile';

/** Two-sided 95 % normal quantile, Φ⁻¹(0.975). */
export const Z_975 = normalQuantileLib(0.975, 0, 1);

export type Interval = [lo: number, hi: number];

/** Arithmetic mean. Throws on an empty sample: an empty mean is a caller bug, not a value. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean of an empty sample');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation with Bessel's correction (divisor n − 1); needs n ≥ 2. */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) throw new RangeError(`sample sd needs at least 2 values, got ${xs.length}`);
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

/** Wilson score 95 % interval for `successes` out of `n`; null when n = 0. */
export function wilsonCi95(successes: number, n: number): Interval | null {
  if (!Number.isInteger(n) || !Number.isInteger(successes) || n < 0 || successes < 0 || successes > n) {
    throw new RangeError(`invalid binomial count ${successes}/${n}`);
  }
  if (n === 0) return null;
  // Wilson (1927), JASA 22:209, eq. as in Agresti & Coull (1998), Am. Stat. 52:119: (p̂ + z²/2n ± z√(p̂q̂/n + z²/4n²)) / (1 + z²/n).
  const z2 = Z_975 * Z_975;
  const p = successes / n;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (Z_975 / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // The exact bound is 0 at zero successes (1 at n); centre ∓ half only gets there up to rounding.
  return [successes === 0 ? 0 : centre - half, successes === n ? 1 : centre + half];
}

/** Two-sided 95 % Student-t interval of the mean, x̄ ± t(0.975, n−1)·s/√n; null when n < 2. */
export function tCi95(xs: readonly number[]): Interval | null {
  if (xs.length < 2) return null;
  // Standard one-sample t interval (e.g. NIST/SEMATECH e-Handbook §7.2.2.1).
  const m = mean(xs);
  const half = (tQuantile(0.975, xs.length - 1) * sampleSd(xs)) / Math.sqrt(xs.length);
  return [m - half, m + half];
}

/** Quantile (inverse CDF) of Student's t with `df` > 0 degrees of freedom, for 0 < p < 1 (stdlib's implementation). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`t quantile needs 0 < p < 1, got ${p}`);
  if (!(df > 0 && Number.isFinite(df))) throw new RangeError(`t quantile needs finite df > 0, got ${df}`);
  return tQuantileLib(p, df);
}

/** Quantile of the standard normal, for 0 < p < 1 (stdlib's implementation). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normal quantile needs 0 < p < 1, got ${p}`);
  return normalQuantileLib(p, 0, 1);
}
