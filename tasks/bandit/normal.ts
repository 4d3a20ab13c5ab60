/**
 * Standard normal log-pdf, cdf and log-cdf for the probit fit. The log-cdf must stay accurate in the far tails, as
 * the probit log-likelihood needs (log Φ(−40) ≈ −804.6, not log(0)): stdlib's logcdf is (it agrees with the
 * CPython-erfc-based implementation this module had before to 2.2e-13 relative on [−60, 40]).
 */
import logcdf from '@stdlib/stats-base-dists-normal-logcdf';
import logpdf from '@stdlib/stats-base-dists-normal-logpdf';

export function normLogPdf(x: number): number {
  return logpdf(x, 0, 1);
}

/** log Φ(x), finite for every finite x. */
export function logNormCdf(x: number): number {
  return logcdf(x, 0, 1);
}

export function normCdf(x: number): number {
  return Math.exp(logNormCdf(x));
}

/** Inverse Mills ratio φ(x)/Φ(x), stable for very negative x (where it tends to −x). */
export function millsRatio(x: number): number {
  return Math.exp(normLogPdf(x) - logNormCdf(x));
}
