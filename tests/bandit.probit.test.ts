import { describe, expect, it } from 'vitest';
import { BanditEnv, sampleInstance, type Arm } from '../tasks/bandit/env.js';
import { logNormCdf, millsRatio, normCdf } from '../tasks/bandit/normal.js';
import { ageTrends, fitBanditProbit, fitProbit, olsTrend, parseAge, type ProbitFit, type ProbitRow } from '../tasks/bandit/probit.js';
import { streamFor } from '../tasks/bandit/rng.js';

const BETA = [0.8, 0.3, 1.5];

/** Trials of `games` bandit games played by the probit policy Φ(β·[V, RU, V/TU]). */
function simulate(seed: number, games: number): ProbitRow[] {
  const rows: ProbitRow[] = [];
  for (let g = 0; g < games; g++) {
    const env = new BanditEnv(sampleInstance(streamFor(seed, 'probit-env', g)));
    const choice = streamFor(seed, 'probit-choice', g);
    while (!env.done) {
      // The regressors as step() will log them, computed from the beliefs before the choice.
      const V = env.expRew[0] - env.expRew[1];
      const RU = Math.sqrt(env.expVar[0]) - Math.sqrt(env.expVar[1]);
      const VTU = V / Math.sqrt(env.expVar[0] + env.expVar[1]);
      const a: Arm = choice.uniform() < normCdf(BETA[0]! * V + BETA[1]! * RU + BETA[2]! * VTU) ? 0 : 1;
      const s = env.step(a);
      rows.push({ V: s.V, RU: s.RU, 'V/TU': s.VTU, action1: s.action1 });
    }
  }
  return rows;
}

describe('normal functions', () => {
  it('match scipy.special.log_ndtr in the tails', () => {
    expect(logNormCdf(-40)).toBeCloseTo(-804.6084420137539, 10);
    expect(logNormCdf(-1000) / -500007.8266948122).toBeCloseTo(1, 14);
    expect(logNormCdf(-2.12)).toBeCloseTo(-4.074364147929037, 13);
    expect(logNormCdf(0)).toBe(Math.log(0.5));
    expect(logNormCdf(8) / -6.220960574271742e-16).toBeCloseTo(1, 12);
    expect(millsRatio(-1000)).toBeCloseTo(1000.000999997, 6);
  });
});

describe('fitProbit', () => {
  it('recovers the simulating coefficients within 3 SE', () => {
    const rows = simulate(11, 400); // 4000 trials
    const fit = fitBanditProbit(rows);
    expect(fit.converged).toBe(true);
    expect(fit.names).toEqual(['V', 'RU', 'V/TU']);
    fit.coef.forEach((b, j) => expect(Math.abs(b - BETA[j]!)).toBeLessThan(3 * fit.se[j]!));
    fit.score.forEach((s) => expect(Math.abs(s)).toBeLessThan(1e-6));
    const expected = fitBanditProbit(rows, { se: 'expected' });
    expected.se.forEach((s, j) => expect(s / fit.se[j]!).toBeGreaterThan(0.7));
    expected.se.forEach((s, j) => expect(s / fit.se[j]!).toBeLessThan(1.4));
  });

  it('reports standard errors close to the spread over replicate data sets', () => {
    const fits = Array.from({ length: 40 }, (_, r) => fitBanditProbit(simulate(100 + r, 150)));
    expect(fits.every((f) => f.converged)).toBe(true);
    for (let j = 0; j < 3; j++) {
      const cs = fits.map((f) => f.coef[j]!);
      const m = cs.reduce((s, c) => s + c, 0) / cs.length;
      const sd = Math.sqrt(cs.reduce((s, c) => s + (c - m) ** 2, 0) / (cs.length - 1));
      const meanSe = fits.reduce((s, f) => s + f.se[j]!, 0) / fits.length;
      // With 40 replicates the sample sd itself is uncertain by ~11 %; a factor 1.5 flags a wrong formula.
      expect(meanSe / sd).toBeGreaterThan(1 / 1.5);
      expect(meanSe / sd).toBeLessThan(1.5);
    }
  });

  it('matches a scipy fit on a small data set', () => {
    const d = [[1.96,0.28,1],[0.75,0.66,0],[2.05,0.25,1],[-1.73,0.77,0],[-2.84,0.11,0],[2.04,0.74,0],[-0.37,-1.85,0],[1.03,-0.82,1],[-2.83,0.66,0],[-0.57,0.54,0],[4.83,-0.15,1],[-0.58,-2.26,1],[-1.07,-0.07,0],[1.6,0.34,1],[0.85,0.82,0],[1.82,0.97,0],[-0.14,-0.75,1],[-2.17,0.04,0],[-1.02,-0.04,1],[3.09,0.26,1],[1.16,0.52,0],[0.91,2.04,0],[0.61,0.44,1],[-3.13,-0.46,0],[4.79,0.72,1]] as const;
    const fit = fitProbit(d.map((r) => [r[0], r[1]]), d.map((r) => r[2] === 1), ['x1', 'x2'], { intercept: true });
    // scipy.optimize.minimize(−Σ log_ndtr) and a finite-difference Hessian
    const coef = [-0.40129522, 0.60973972, -0.90720309];
    const se = [0.35426629, 0.24878387, 0.39903989];
    expect(fit.names).toEqual(['intercept', 'x1', 'x2']);
    fit.coef.forEach((b, j) => expect(b).toBeCloseTo(coef[j]!, 6));
    fit.se.forEach((s, j) => expect(s).toBeCloseTo(se[j]!, 4));
    expect(fit.logLik).toBeCloseTo(-10.049269211838318, 9);
  });

  it('solves the hand-checkable intercept-only and two-group cases', () => {
    // One constant column, k successes of n: β̂ = Φ⁻¹(k/n); observed = expected information = nφ²/(p(1−p)).
    const n = 50;
    const k = 17;
    const y = Array.from({ length: n }, (_, i) => i < k);
    for (const se of ['observed', 'expected'] as const) {
      const fit = fitProbit(y.map(() => [1]), y, ['c'], { se });
      const b = fit.coef[0]!;
      const p = k / n;
      expect(normCdf(b)).toBeCloseTo(p, 12);
      const phi = Math.exp(-0.5 * b * b) / Math.sqrt(2 * Math.PI);
      expect(fit.se[0]).toBeCloseTo(Math.sqrt((p * (1 - p)) / (n * phi * phi)), 10);
      expect(fit.logLik).toBeCloseTo(k * Math.log(p) + (n - k) * Math.log(1 - p), 10);
    }
    // Group indicators without intercept: each coefficient is Φ⁻¹ of its group's share.
    const X = [...Array(10).fill([1, 0]), ...Array(20).fill([0, 1])] as number[][];
    const yy = X.map((_, i) => (i < 10 ? i < 7 : i < 15));
    const fit = fitProbit(X, yy, ['g1', 'g2']);
    expect(normCdf(fit.coef[0]!)).toBeCloseTo(0.7, 12);
    expect(normCdf(fit.coef[1]!)).toBeCloseTo(0.25, 12);
  });

  it('reports separation as non-convergence instead of throwing', () => {
    const xs = [-3, -2, -1, 1, 2, 3];
    const complete = fitProbit(xs.map((x) => [x]), xs.map((x) => x > 0), ['x']);
    expect(complete.converged).toBe(false);
    expect(complete.reason).toBeDefined();
    const qx = [-2, -1, 0, 0, 1, 2];
    const quasi = fitProbit(qx.map((x) => [x]), [false, false, false, true, true, true], ['x'], { intercept: true });
    expect(quasi.converged).toBe(false);
    const allOnes = fitProbit([[1], [1], [1]], [true, true, true], ['c']);
    expect(allOnes.converged).toBe(false);
  });

  it('rejects malformed input', () => {
    expect(() => fitProbit([[1]], [true, false], ['x'])).toThrow(RangeError);
    expect(() => fitProbit([[1, 2]], [true], ['x'])).toThrow(RangeError);
    expect(() => fitProbit([[NaN]], [true], ['x'])).toThrow(RangeError);
  });
});

describe('trend over age', () => {
  it('parses ages', () => {
    expect(parseAge('7 year old')).toBe(7);
    expect(parseAge('1 year old')).toBe(1);
    expect(parseAge('none')).toBeNull();
    expect(parseAge('ornithologist')).toBeNull();
  });

  it('computes the OLS slope and its standard error', () => {
    const t = olsTrend([1, 2, 3], [1, 2, 4]);
    expect(t.slope).toBeCloseTo(1.5, 14);
    expect(t.intercept).toBeCloseTo(-2 / 3, 14);
    expect(t.se).toBeCloseTo(Math.sqrt(1 / 12), 14);
    expect(Number.isNaN(olsTrend([1, 2], [3, 4]).se)).toBe(true);
  });

  it('fits each coefficient against age, skipping non-age and non-converged personas', () => {
    const fit = (v: number, converged = true): ProbitFit => ({
      names: ['V', 'RU', 'V/TU'],
      coef: [v, -v, 2],
      se: [0.1, 0.1, 0.1],
      logLik: -1,
      score: [0, 0, 0],
      iterations: 5,
      converged,
      n: 10,
    });
    const { trends, skipped } = ageTrends({
      '2 year old': fit(0.2),
      '4 year old': fit(0.4),
      '7 year old': fit(0.7),
      '9 year old': fit(9, false),
      none: fit(5),
    });
    expect(skipped.sort()).toEqual(['9 year old', 'none']);
    expect(trends['V']!.slope).toBeCloseTo(0.1, 12);
    expect(trends['RU']!.slope).toBeCloseTo(-0.1, 12);
    expect(trends['V/TU']!.slope).toBeCloseTo(0, 12);
    expect(trends['V']!.n).toBe(3);
  });
});
