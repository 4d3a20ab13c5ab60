/**
 * Standard normal pdf, cdf and log-cdf, accurate in the far tails as the probit log-likelihood needs:
 * log Φ(−40) must be ≈ −804.6, not log(0). erf/erfc follow CPython's `mathmodule.c` (Taylor series for |z| < 1.5,
 * continued fraction by its three-term recurrence otherwise), renormalising the recurrence so it cannot
 * overflow and keeping the exp(−z²) factor in log space.
 */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const SERIES_CUTOFF = 1.5;

export function normLogPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

export function normPdf(x: number): number {
  return Math.exp(normLogPdf(x));
}

/** erf(z) by its Taylor series (A&S 7.1.6), for |z| < 1.5. */
function erfSeries(z: number): number {
  const z2 = z * z;
  let acc = 0;
  let fk = 25.5;
  for (let i = 0; i < 25; i++) {
    acc = 2 + (z2 * acc) / fk;
    fk -= 1;
  }
  return (acc * z * Math.exp(-z2)) / Math.sqrt(Math.PI);
}

/** log erfc(z) for z >= 1.5, by the continued fraction of A&S 7.1.14 (as in CPython's m_erfc_contfrac). */
function logErfcContFrac(z: number): number {
  const z2 = z * z;
  let a = 0;
  let da = 0.5;
  let p = 1;
  let pLast = 0;
  let q = da + z2;
  let qLast = 1;
  for (let i = 0; i < 50; i++) {
    a += da;
    da += 2;
    const b = da + z2;
    [p, pLast] = [b * p - a * pLast, p];
    [q, qLast] = [b * q - a * qLast, q];
    // Rescale: p, q grow like z^(2i) and would overflow for large z; only their ratio matters.
    pLast /= q;
    p /= q;
    qLast /= q;
    q = 1;
  }
  return Math.log((p / q) * z) - z2 - LOG_SQRT_PI;
}

/** log Φ(x), finite for every finite x. */
export function logNormCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return -Infinity;
  const z = -x / Math.SQRT2; // Φ(x) = erfc(z) / 2
  if (z >= SERIES_CUTOFF) return Math.log(0.5) + logErfcContFrac(z);
  if (z > -SERIES_CUTOFF) return Math.log(0.5 - 0.5 * erfSeries(z));
  return Math.log1p(-0.5 * Math.exp(logErfcContFrac(-z))); // Φ(x) = 1 − erfc(−z)/2 for large positive x
}

export function normCdf(x: number): number {
  return Math.exp(logNormCdf(x));
}

/** Inverse Mills ratio φ(x)/Φ(x), stable for very negative x (where it tends to −x). */
export function millsRatio(x: number): number {
  return Math.exp(normLogPdf(x) - logNormCdf(x));
}
