/**
 * Probit regression for the Gershman (2018) hybrid model, P(action1) = Φ(β_V·V + β_RU·RU + β_VTU·V/TU), fitted
 * by Newton-Raphson on the log-likelihood (SPEC §3 "Paper analysis"), and the trend of coefficients over age.
 *
 * For probit the observed information Σ x xᵀ·m(q)(q + m(q)) (m = φ/Φ, q = ±η) is positive definite, so plain
 * Newton with step halving is safe. Under (quasi-)separation the MLE is at infinity: the iterations then run
 * out, or the information becomes numerically singular once the separated observations saturate; both are
 * reported as converged=false rather than thrown, so one degenerate persona does not stop an analysis.
 */
import { logNormCdf, normLogPdf } from './normal.js';

export interface ProbitOptions {
  /** Prepend a constant column named "intercept" (Gershman's model has none; default false). */
  intercept?: boolean;
  maxIter?: number;
  /** Converged when every |Δβ_j| <= tol·(1 + |β_j|). */
  tol?: number;
  /** Standard errors from the observed (default, as statsmodels) or the expected information. */
  se?: 'observed' | 'expected';
}

export interface ProbitFit {
  names: string[];
  coef: number[];
  se: number[];
  logLik: number;
  /** Gradient of the log-likelihood at `coef` (≈ 0 at the optimum). */
  score: number[];
  iterations: number;
  converged: boolean;
  /** Why converged is false. */
  reason?: 'max_iter' | 'singular_information' | 'no_improvement';
  n: number;
}

type Matrix = number[][];

/** Cholesky factor L (A = L·Lᵀ) of a symmetric matrix, or null when it is not numerically positive definite. */
function cholesky(a: Matrix): Matrix | null {
  const k = a.length;
  const l: Matrix = a.map(() => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let m = 0; m < j; m++) s -= l[i]![m]! * l[j]![m]!;
      if (i === j) {
        // Relative pivot test: a pivot lost to rounding against its diagonal means a (near-)singular matrix.
        if (!(s > 1e-12 * a[i]![i]!) || !Number.isFinite(s)) return null;
        l[i]![i] = Math.sqrt(s);
      } else l[i]![j] = s / l[j]![j]!;
    }
  }
  return l;
}

function cholSolve(l: Matrix, b: readonly number[]): number[] {
  const k = l.length;
  const y = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    let s = b[i]!;
    for (let m = 0; m < i; m++) s -= l[i]![m]! * y[m]!;
    y[i] = s / l[i]![i]!;
  }
  const x = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let m = i + 1; m < k; m++) s -= l[m]![i]! * x[m]!;
    x[i] = s / l[i]![i]!;
  }
  return x;
}

/** Diagonal of A⁻¹ from its Cholesky factor. */
function inverseDiagonal(l: Matrix): number[] {
  return l.map((_, j) => cholSolve(l, l.map((__, i) => (i === j ? 1 : 0)))[j]!);
}

interface Eval {
  logLik: number;
  score: number[];
  info: Matrix;
}

function evaluate(X: readonly (readonly number[])[], y: readonly boolean[], beta: readonly number[], expected: boolean): Eval {
  const k = beta.length;
  const score = new Array<number>(k).fill(0);
  const info: Matrix = beta.map(() => new Array<number>(k).fill(0));
  let logLik = 0;
  for (let i = 0; i < X.length; i++) {
    const x = X[i]!;
    let eta = 0;
    for (let j = 0; j < k; j++) eta += x[j]! * beta[j]!;
    const s = y[i] ? 1 : -1;
    const q = s * eta;
    const logPhi = logNormCdf(q);
    const m = Math.exp(normLogPdf(q) - logPhi); // d log Φ(q)/dq, the inverse Mills ratio
    logLik += logPhi;
    // Observed: −d² log Φ(q)/dη² = m(q + m). Expected (Fisher): φ²/(Φ(η)Φ(−η)), the same for both outcomes.
    const w = expected ? Math.exp(2 * normLogPdf(eta) - logNormCdf(eta) - logNormCdf(-eta)) : m * (q + m);
    for (let j = 0; j < k; j++) {
      score[j]! += s * m * x[j]!;
      for (let c = 0; c <= j; c++) info[j]![c]! += w * x[j]! * x[c]!;
    }
  }
  for (let j = 0; j < k; j++) for (let c = 0; c < j; c++) info[c]![j] = info[j]![c]!;
  return { logLik, score, info };
}

/**
 * Fit P(y = 1) = Φ(X·β). Rows of X are observations; `names` label the columns (an intercept, if asked for, is
 * added in front).
 */
export function fitProbit(
  X: readonly (readonly number[])[],
  y: readonly boolean[],
  names: readonly string[],
  opts: ProbitOptions = {},
): ProbitFit {
  const { intercept = false, maxIter = 100, tol = 1e-9, se = 'observed' } = opts;
  if (X.length !== y.length) throw new RangeError('X and y differ in length');
  const design = intercept ? X.map((r) => [1, ...r]) : X;
  const allNames = intercept ? ['intercept', ...names] : [...names];
  const k = allNames.length;
  if (design.some((r) => r.length !== k)) throw new RangeError(`every row needs ${k - (intercept ? 1 : 0)} values`);
  if (design.some((r) => r.some((v) => !Number.isFinite(v)))) throw new RangeError('regressors must be finite');

  let beta = new Array<number>(k).fill(0);
  let cur = evaluate(design, y, beta, false);
  let converged = false;
  let reason: ProbitFit['reason'];
  let iterations = 0;
  while (!converged && reason === undefined) {
    if (iterations >= maxIter) {
      reason = 'max_iter';
      break;
    }
    const l = cholesky(cur.info);
    if (!l) {
      reason = 'singular_information';
      break;
    }
    const step = cholSolve(l, cur.score);
    // Newton decrement gᵀH⁻¹g: twice the predicted gain of the full step. Below ~1e-10 nats the gain is lost in
    // the rounding of the summed log-likelihood, so comparing values would wrongly reject (and halve) the step.
    const decrement = step.reduce((s, d, j) => s + d * cur.score[j]!, 0);
    // Step halving guards the first steps from a poor start; the log-likelihood is concave, so it rarely bites.
    let t = 1;
    let next: Eval | undefined;
    let cand = beta;
    for (let h = 0; h < 40; h++, t /= 2) {
      cand = beta.map((b, j) => b + t * step[j]!);
      const e = evaluate(design, y, cand, false);
      if (e.logLik >= cur.logLik || decrement < 1e-10) {
        next = e;
        break;
      }
    }
    iterations++;
    if (!next) {
      // The full Newton step cannot improve: we are at the optimum up to rounding, or the problem is degenerate.
      converged = step.every((d, j) => Math.abs(d) <= tol * (1 + Math.abs(beta[j]!)));
      if (!converged) reason = 'no_improvement';
      break;
    }
    converged = cand.every((b, j) => Math.abs(b - beta[j]!) <= tol * (1 + Math.abs(b)));
    beta = cand;
    cur = next;
  }

  const infoForSe = se === 'expected' ? evaluate(design, y, beta, true).info : cur.info;
  const lse = cholesky(infoForSe);
  const seVals = lse ? inverseDiagonal(lse).map(Math.sqrt) : new Array<number>(k).fill(NaN);
  if (converged && !lse) {
    converged = false;
    reason = 'singular_information';
  }
  return {
    names: allNames,
    coef: beta,
    se: seVals,
    logLik: cur.logLik,
    score: cur.score,
    iterations,
    converged,
    ...(reason !== undefined && !converged && { reason }),
    n: y.length,
  };
}

/** The regressors as logged in the seed's CSV. */
export interface ProbitRow {
  V: number;
  RU: number;
  'V/TU': number;
  action1: boolean;
}

export const BANDIT_PROBIT_NAMES = ['V', 'RU', 'V/TU'] as const;

/** Gershman's hybrid model on one persona's trials (all games pooled, as in the paper). */
export function fitBanditProbit(rows: readonly ProbitRow[], opts: ProbitOptions = {}): ProbitFit {
  return fitProbit(
    rows.map((r) => [r.V, r.RU, r['V/TU']]),
    rows.map((r) => r.action1),
    BANDIT_PROBIT_NAMES,
    opts,
  );
}

/** Age in years from a persona like "7 year old" (the bandit persona list), else null. */
export function parseAge(persona: string): number | null {
  const m = /^(\d+(?:\.\d+)?) years? old$/.exec(persona.trim());
  return m ? Number(m[1]) : null;
}

export interface Trend {
  slope: number;
  /** Classical OLS standard error of the slope, √(s²/Sxx) with s² = SSE/(n − 2); NaN when n < 3. */
  se: number;
  intercept: number;
  n: number;
}

/** Ordinary least squares y = a + b·x. */
export function olsTrend(xs: readonly number[], ys: readonly number[]): Trend {
  const n = xs.length;
  if (n !== ys.length || n < 2) throw new RangeError('OLS needs two equally long samples of at least 2 points');
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) throw new RangeError('OLS needs at least two distinct x values');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i]! - intercept - slope * xs[i]!) ** 2;
  return { slope, se: n > 2 ? Math.sqrt(sse / (n - 2) / sxx) : NaN, intercept, n };
}

export interface AgeTrends {
  /** Per coefficient name: OLS of the coefficient on age over the converged fits of age personas. */
  trends: Record<string, Trend>;
  /** Personas left out: no parsable age, or a fit that did not converge. */
  skipped: string[];
}

/** Trend of each coefficient over persona age, e.g. from `{"1 year old": fit, ...}`. */
export function ageTrends(fits: Readonly<Record<string, ProbitFit>>): AgeTrends {
  const used: { age: number; fit: ProbitFit }[] = [];
  const skipped: string[] = [];
  for (const [persona, fit] of Object.entries(fits)) {
    const age = parseAge(persona);
    if (age === null || !fit.converged) skipped.push(persona);
    else used.push({ age, fit });
  }
  const trends: Record<string, Trend> = {};
  const names = used[0]?.fit.names ?? [];
  if (used.some((u) => u.fit.names.join('\0') !== names.join('\0'))) throw new RangeError('fits have different coefficients');
  if (used.length >= 2) {
    names.forEach((name, j) => {
      trends[name] = olsTrend(
        used.map((u) => u.age),
        used.map((u) => u.fit.coef[j]!),
      );
    });
  }
  return { trends, skipped };
}
