import { describe, expect, it } from 'vitest';
import { bhAdjust, holmAdjust, mcnemarExact, pairedBootstrapDiff, quantileSorted, type BootstrapOptions, type PairedOutcome } from '../stats/paired.js';

describe('mcnemarExact', () => {
  it('is the two-sided binomial test on the discordant pairs (R: binom.test(1, 10)$p.value)', () => {
    expect(mcnemarExact(1, 9).p).toBeCloseTo(22 / 1024, 14);
    expect(mcnemarExact(9, 1).p).toBeCloseTo(22 / 1024, 14);
    expect(mcnemarExact(0, 6).p).toBeCloseTo(2 / 64, 14);
    expect(mcnemarExact(5, 5).p).toBe(1);
    expect(mcnemarExact(0, 0).p).toBe(1);
    expect(() => mcnemarExact(-1, 2)).toThrow(RangeError);
  });
});

describe('multiple-testing adjustments', () => {
  const ps = [0.01, 0.04, 0.03, 0.005];
  it('Holm matches R p.adjust(method = "holm")', () => {
    holmAdjust(ps).forEach((p, i) => expect(p).toBeCloseTo([0.03, 0.06, 0.06, 0.02][i]!, 14));
  });
  it('BH matches R p.adjust(method = "BH")', () => {
    bhAdjust(ps).forEach((p, i) => expect(p).toBeCloseTo([0.02, 0.04, 0.04, 0.02][i]!, 14));
  });
  it('caps at 1 and keeps an empty family empty', () => {
    expect(holmAdjust([0.6, 0.7])).toEqual([1, 1]);
    expect(bhAdjust([0.6, 0.7])).toEqual([0.7, 0.7]);
    expect(holmAdjust([])).toEqual([]);
  });
});

describe('quantileSorted', () => {
  it('interpolates as R type 7', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 14);
    expect(quantileSorted([5], 0.9)).toBe(5);
  });
});

/** n questions: a right on the first `aRight`, b right on every third. */
function outcomes(n: number, samplesPerQuestion = 1, aRight = Math.floor(n * 0.6)): PairedOutcome[] {
  const out: PairedOutcome[] = [];
  for (let q = 0; q < n; q++) for (let s = 0; s < samplesPerQuestion; s++) out.push({ cluster: `q${q}`, a: q < aRight, b: q % 3 === 0 });
  return out;
}

describe('pairedBootstrapDiff', () => {
  it('gives the exact difference and a seeded interval around it', () => {
    const o = outcomes(60);
    const r = pairedBootstrapDiff(o, { seed: 7 });
    const exact = (36 - 20) / 60;
    expect(r).toMatchObject({ n: 60, clusters: 60 });
    expect(r.diff).toBeCloseTo(exact, 14);
    expect(r.ci95![0]).toBeLessThan(exact);
    expect(r.ci95![1]).toBeGreaterThan(exact);
    expect(pairedBootstrapDiff(o, { seed: 7 })).toEqual(r);
    // The difference lives on a 1/60 grid, so two seeds may share an interval; five seeds, or five keys, do not.
    const distinct = (f: (i: number) => BootstrapOptions) => new Set([1, 2, 3, 4, 5].map((i) => JSON.stringify(pairedBootstrapDiff(o, { resamples: 500, ...f(i) }).ci95))).size;
    expect(distinct((i) => ({ seed: i }))).toBeGreaterThan(1);
    expect(distinct((i) => ({ seed: 7, keys: [`k${i}`] }))).toBeGreaterThan(1);
  });

  it('has the width of the normal-theory interval for many questions', () => {
    const o = outcomes(600);
    const d = o.map((x) => Number(x.a) - Number(x.b));
    const m = d.reduce((s, x) => s + x, 0) / d.length;
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / (d.length - 1));
    const half = (1.959964 * sd) / Math.sqrt(d.length);
    const r = pairedBootstrapDiff(o, { seed: 1, resamples: 4000 });
    expect((r.ci95![1] - r.ci95![0]) / 2 / half).toBeGreaterThan(0.9);
    expect((r.ci95![1] - r.ci95![0]) / 2 / half).toBeLessThan(1.1);
  });

  it('resamples questions, not items: repeated samples of a question do not narrow the interval', () => {
    const once = pairedBootstrapDiff(outcomes(40), { seed: 3 });
    const thrice = pairedBootstrapDiff(outcomes(40, 3), { seed: 3 });
    expect(thrice.n).toBe(120);
    expect(thrice.clusters).toBe(40);
    expect(thrice.ci95![0]).toBeCloseTo(once.ci95![0], 12);
    expect(thrice.ci95![1]).toBeCloseTo(once.ci95![1], 12);
    // Treating the 120 items as independent would wrongly narrow it.
    const unclustered = pairedBootstrapDiff(outcomes(40, 3).map((x, i) => ({ ...x, cluster: `i${i}` })), { seed: 3 });
    expect(unclustered.ci95![1] - unclustered.ci95![0]).toBeLessThan(0.75 * (once.ci95![1] - once.ci95![0]));
  });

  it('has no interval below two questions', () => {
    expect(pairedBootstrapDiff(outcomes(1, 5)).ci95).toBeNull();
    expect(Number.isNaN(pairedBootstrapDiff([]).diff)).toBe(true);
  });
});
