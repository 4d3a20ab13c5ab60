/**
 * Interval estimates used by the analyses: Wilson score interval for one accuracy, Student-t interval for a mean of
 * per-task accuracies. Pure math, no dependencies.
 */

/** Two-sided 95 % normal quantile, Φ⁻¹(0.975). */
export const Z_975 = 1.959963984540054;

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

/** Quantile (inverse CDF) of Student's t with `df` > 0 degrees of freedom, for 0 < p < 1. */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`t quantile needs 0 < p < 1, got ${p}`);
  if (!(df > 0 && Number.isFinite(df))) throw new RangeError(`t quantile needs finite df > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  // P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2) (Abramowitz & Stegun 26.7.1 with 26.5.2). Solve for whichever of
  // x = df/(df+t²) or 1 − x is smaller, so t = √(df(1−x)/x) does not lose digits to cancellation.
  const tail = 2 * (1 - p);
  const x = inverseRegularizedIncompleteBeta(tail, df / 2, 0.5);
  if (x < 0.5) return Math.sqrt((df * (1 - x)) / x);
  const y = inverseRegularizedIncompleteBeta(1 - tail, 0.5, df / 2); // y = 1 − x = t²/(df+t²)
  return Math.sqrt((df * y) / (1 - y));
}

// ---- special functions ----

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0: Lanczos approximation, g = 7, n = 9 (Lanczos 1964; coefficients as in Press et al.'s and Godfrey's tables), ~1e-15 relative. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x); // reflection formula
  const xm = x - 1;
  let a = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (xm + i);
  const t = xm + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(a);
}

const FPMIN = 1e-300;

/** Continued fraction for I_x(a,b) by modified Lentz (Numerical Recipes 3rd ed. §6.4, `betacf`). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  const guard = (v: number) => (Math.abs(v) < FPMIN ? FPMIN : v);
  let c = 1;
  let d = 1 / guard(1 - (qab * x) / qap);
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 / guard(1 + aa * d);
    c = guard(1 + aa / c);
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 / guard(1 + aa * d);
    c = guard(1 + aa / c);
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) return h;
  }
  throw new Error(`incomplete beta continued fraction did not converge (a=${a}, b=${b}, x=${x})`);
}

/** Regularized incomplete beta I_x(a, b) (Numerical Recipes 3rd ed. §6.4, `betai`). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta needs 0 ≤ x ≤ 1, got ${x}`);
  if (x === 0 || x === 1) return x;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  // The continued fraction converges fast only left of the mean; use I_x(a,b) = 1 − I_{1−x}(b,a) on the right.
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** x such that I_x(a, b) = p: initial guess and Halley refinement of Numerical Recipes 3rd ed. §6.4 (`invbetai`). */
export function inverseRegularizedIncompleteBeta(p: number, a: number, b: number): number {
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const a1 = a - 1;
  const b1 = b - 1;
  let x: number;
  if (a >= 1 && b >= 1) {
    // Normal-approximation start (A&S 26.5.22 with 26.2.22).
    const pp = p < 0.5 ? p : 1 - p;
    const t = Math.sqrt(-2 * Math.log(pp));
    let z = (2.30753 + t * 0.27061) / (1 + t * (0.99229 + t * 0.04481)) - t;
    if (p < 0.5) z = -z;
    const al = (z * z - 3) / 6;
    const h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1));
    const w = (z * Math.sqrt(al + h)) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5 / 6 - 2 / (3 * h));
    x = a / (a + b * Math.exp(2 * w));
  } else {
    // Small a or b: invert the leading power-law terms at either end.
    const lna = Math.log(a / (a + b));
    const lnb = Math.log(b / (a + b));
    const t = Math.exp(a * lna) / a;
    const u = Math.exp(b * lnb) / b;
    const w = t + u;
    x = p < t / w ? Math.pow(a * w * p, 1 / a) : 1 - Math.pow(b * w * (1 - p), 1 / b);
  }
  const afac = -lnGamma(a) - lnGamma(b) + lnGamma(a + b);
  for (let j = 0; j < 100; j++) {
    if (x === 0 || x === 1) return x;
    const err = regularizedIncompleteBeta(x, a, b) - p;
    const density = Math.exp(a1 * Math.log(x) + b1 * Math.log1p(-x) + afac);
    const u = err / density;
    const step = u / (1 - 0.5 * Math.min(1, u * (a1 / x - b1 / (1 - x))));
    x -= step;
    if (x <= 0) x = 0.5 * (x + step); // stepped out of (0,1): halve the distance to the edge instead
    if (x >= 1) x = 0.5 * (x + step + 1);
    // Halley converges cubically, so a tight tolerance costs at most a step or two more than NR's 1e-8.
    if (Math.abs(step) < 1e-14 * x && j > 0) break;
  }
  return x;
}
