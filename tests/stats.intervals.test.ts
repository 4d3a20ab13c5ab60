import { describe, expect, it } from 'vitest';
import {
  Z_975,
  mean,
  normalQuantile,
  sampleSd,
  tCi95,
  tQuantile,
  wilsonCi95,
} from '../stats/intervals.js';

const near = (actual: number, expected: number, tol: number) => expect(Math.abs(actual - expected)).toBeLessThan(tol);

describe('mean and sample sd', () => {
  it('computes them by the textbook formulas', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    // mean 5, squared deviations sum to 32, n − 1 = 7
    near(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), 1e-15);
  });
  it('refuses samples too small to have them', () => {
    expect(() => mean([])).toThrow(RangeError);
    expect(() => sampleSd([1])).toThrow(RangeError);
  });
});

describe('tQuantile', () => {
  // Printed t tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), two-sided 95 %.
  const table: [number, number][] = [
    [1, 12.706205],
    [2, 4.302653],
    [5, 2.570582],
    [10, 2.228139],
    [30, 2.042272],
    [100, 1.983972],
  ];
  it.each(table)('t(0.975, %i) matches the table to 1e-4', (df, t) => near(tQuantile(0.975, df), t, 1e-4));

  it('matches the closed forms for df = 1 and df = 2 to machine precision', () => {
    for (const p of [0.6, 0.9, 0.975, 0.999]) {
      near(tQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-9 * Math.tan(Math.PI * (p - 0.5)));
      near(tQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-12);
    }
  });

  it('gives other table quantiles, the lower tail by symmetry, and tends to the normal quantile', () => {
    near(tQuantile(0.995, 10), 3.169273, 1e-6);
    near(tQuantile(0.95, 30), 1.697261, 1e-6);
    expect(tQuantile(0.5, 7)).toBe(0);
    near(tQuantile(0.025, 5), -tQuantile(0.975, 5), 1e-14);
    near(tQuantile(0.975, 1e6), 1.959966, 1e-6);
  });

  it('rejects p outside (0, 1) and df ≤ 0', () => {
    expect(() => tQuantile(1, 5)).toThrow(RangeError);
    expect(() => tQuantile(0.975, 0)).toThrow(RangeError);
  });
});

describe('normalQuantile and Z_975', () => {
  it('match the printed normal table and are symmetric', () => {
    near(Z_975, 1.959963984540054, 1e-14);
    near(normalQuantile(0.95), 1.6448536269514722, 1e-12);
    near(normalQuantile(0.025), -Z_975, 1e-14);
    expect(() => normalQuantile(0)).toThrow(RangeError);
  });
});

describe('wilsonCi95', () => {
  it('reproduces Newcombe (1998, Stat Med 17:857, Table II, method 3)', () => {
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [k, n, lo, hi] of cases) {
      const ci = wilsonCi95(k, n)!;
      near(ci[0], lo, 1e-4);
      near(ci[1], hi, 1e-4);
    }
  });
  it('has the closed form [0, z²/(n+z²)] at zero successes and mirrors it at n', () => {
    const z2 = 1.959963984540054 ** 2;
    expect(wilsonCi95(0, 10)![0]).toBe(0);
    near(wilsonCi95(0, 10)![1], z2 / (10 + z2), 1e-15);
    near(wilsonCi95(10, 10)![0], 10 / (10 + z2), 1e-15);
    expect(wilsonCi95(10, 10)![1]).toBe(1);
  });
  it('is null for n = 0 and rejects impossible counts', () => {
    expect(wilsonCi95(0, 0)).toBeNull();
    expect(() => wilsonCi95(3, 2)).toThrow(RangeError);
    expect(() => wilsonCi95(-1, 2)).toThrow(RangeError);
    expect(() => wilsonCi95(0.5, 2)).toThrow(RangeError);
  });
});

describe('tCi95', () => {
  it('is x̄ ± t(0.975, n−1)·s/√n', () => {
    // [1, 2, 3]: mean 2, s = 1, t(0.975, 2) = 4.302653
    const [lo, hi] = tCi95([1, 2, 3])!;
    near(lo, 2 - 4.302653 / Math.sqrt(3), 1e-6);
    near(hi, 2 + 4.302653 / Math.sqrt(3), 1e-6);
    expect(tCi95([0.4, 0.4])).toEqual([0.4, 0.4]);
  });
  it('is null below two values', () => {
    expect(tCi95([])).toBeNull();
    expect(tCi95([0.5])).toBeNull();
  });
});
