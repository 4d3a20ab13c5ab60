/**
 * Vision scoring and statistics. Reference values from scipy 1.17.1 (scripts/vision/metrics-reference.py, run in
 * the tooling venv): `stats.permutation_test(..., permutation_type='samples', n_resamples=inf)` on per-class sums
 * and `stats.binomtest(onlyA, onlyA + onlyB, 0.5)` for the exact McNemar test.
 */
import { describe, expect, it } from 'vitest';
import {
  argmaxLowest,
  bootstrapAccuracyOverClasses,
  defaultContrasts,
  pairedPermutationTest,
  replicateSummary,
  visionMetrics,
  zeroShotLogits,
  zeroShotPredict,
} from '../tasks/vision/metrics.js';
import { DEFAULT_PERSONAS } from '../tasks/vision/prompts.js';

// Fixture: 10 classes × 4 images; outcome bits per class for personas a and b (the reference script's).
const A = ['1111', '1101', '0110', '1000', '1111', '0011', '1010', '1100', '0001', '1110'];
const B = ['1011', '0100', '1010', '0000', '1101', '0001', '0010', '1111', '0000', '0110'];
const labels = A.flatMap((_, c) => [c, c, c, c]);
const WILSON_24_40 = [0.44595893660346186, 0.7365167431570808] as const;
const predsOf = (bits: string[]) => bits.flatMap((s, c) => [...s].map((x) => (x === '1' ? c : (c + 1) % 10)));

describe('zero-shot prediction', () => {
  it('logits are 100 · cosine; argmax ties go to the lowest class index', () => {
    const l = zeroShotLogits([3, 4], [[3, 4], [4, -3], [-6, -8]]);
    expect([...l].map((x) => Math.round(x * 1e9) / 1e9)).toEqual([100, 0, -100]);
    expect(argmaxLowest([1, 5, 5, 2])).toBe(1);
    expect(argmaxLowest([NaN, 0])).toBe(1);
  });
  it('cut texts (identical embeddings, the seed truncation bug) tie and the lowest index wins', () => {
    const bos = [0.2, 0.9, 0.1];
    const texts = [[1, 0, 0], bos, [0, 0, 1], bos];
    // An image closest to the shared BOS embedding is predicted as class 1, never 3.
    expect(zeroShotPredict([[0.2, 0.9, 0.1], [0.9, 0.1, 0], [0, 0.1, 1]], texts)).toEqual([1, 0, 2]);
  });
  it('bad embeddings fail clearly', () => {
    expect(() => zeroShotPredict([[1, 0]], [[1, 0, 0]])).toThrow(/3 dimensions, the image 2/);
    expect(() => zeroShotPredict([[0, 0]], [[1, 0]])).toThrow(/zero/);
  });
});

describe('paired tests against scipy', () => {
  it('exact permutation test over classes and exact McNemar (fixture 1)', () => {
    const m = visionMetrics({ classNames: A.map((_, i) => `c${i}`), labels, predictions: { a: predsOf(A), b: predsOf(B) } }, { contrasts: [{ a: 'a', b: 'b', kind: 'bias' }] });
    const c = m.contrasts[0]!;
    expect(c.mcnemar).toMatchObject({ only_a: 10, only_b: 3 });
    expect(c.mcnemar.p).toBeCloseTo(0.09228515625, 12);
    expect(c.permutation.exact).toBe(true);
    expect(c.permutation.p).toBeCloseTo(0.12109375, 12);
    expect(c.diff).toBeCloseTo((10 - 3) / 40, 12);
    expect(pairedPermutationTest([1, 2, 0, 1, 1, 1, 1, -2, 1, 1]).p).toBeCloseTo(0.12109375, 12);
  });
  it('Monte-Carlo permutation test (20 differing classes) is near the exact value and deterministic', () => {
    const d2 = [1, 1, 3, 4, -3, -2, 3, 4, -2, -1, 3, 1, -1, 3, -1, 1, 2, 1, -3, -3];
    const r = pairedPermutationTest(d2, { seed: 7 });
    expect(r.exact).toBe(false);
    expect(Math.abs(r.p - 0.3580951690673828)).toBeLessThan(0.02);
    expect(pairedPermutationTest(d2, { seed: 7 }).p).toBe(r.p);
    expect(pairedPermutationTest([0, 0]).p).toBe(1);
  });
});

describe('visionMetrics', () => {
  const personas = ['man', 'woman', 'none', 'class_name'];
  const preds: Record<string, number[]> = { man: predsOf(A), woman: predsOf(B), none: predsOf(B), class_name: predsOf(A) };
  const cut = { man: [true, false, false, false, false, false, false, false, false, true], woman: new Array(10).fill(false) };
  const m = visionMetrics({ classNames: A.map((_, i) => `c${i}`), labels, predictions: preds, truncated: cut }, { seed: 3, resamples: 500 });

  it('per persona: micro accuracy, Wilson, bootstrap over classes, per class, cut fraction', () => {
    const man = m.personas.man!;
    expect(man).toMatchObject({ n: 40, correct: 24, cut_classes: 2, cut_fraction: 0.2 });
    expect(man.accuracy).toBeCloseTo(24 / 40, 12);
    // Wilson 95 % for 24/40 (closed form computed in Python with z = 1.959963984540054).
    expect(man.wilson95![0]).toBeCloseTo(WILSON_24_40[0], 9);
    expect(man.wilson95![1]).toBeCloseTo(WILSON_24_40[1], 9);
    expect(man.per_class).toEqual([1, 0.75, 0.5, 0.25, 1, 0.5, 0.5, 0.5, 0.25, 0.75]);
    expect(m.personas.none!.cut_fraction).toBeNull();
    const [lo, hi] = man.bootstrap95_classes!;
    expect(lo).toBeLessThan(man.accuracy);
    expect(hi).toBeGreaterThan(man.accuracy);
    expect(hi - lo).toBeLessThan(0.5);
  });

  it('default contrasts: bias pairs, vs none, vs class_name; Holm across the family', () => {
    expect(m.contrasts.map((c) => `${c.a}-${c.b}`)).toEqual(['man-woman', 'man-none', 'woman-none', 'man-class_name', 'woman-class_name', 'none-class_name']);
    const ps = m.contrasts.map((c) => c.mcnemar.p);
    // Holm by hand: sorted p times (m − rank), running max, capped at 1.
    const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
    const want = new Array<number>(ps.length);
    let run = 0;
    order.forEach(([p, i], r) => (want[i] = run = Math.max(run, Math.min(1, (ps.length - r) * p))));
    m.contrasts.forEach((c, j) => expect(c.mcnemar.p_holm).toBeCloseTo(want[j]!, 12));
    // Identical predictions: no discordance, p = 1, diff 0, CI degenerate at 0.
    const same = m.contrasts.find((c) => c.a === 'man' && c.b === 'class_name')!;
    expect(same).toMatchObject({ diff: 0, mcnemar: { only_a: 0, only_b: 0, p: 1 }, permutation: { p: 1 } });
    const mw = m.contrasts[0]!;
    expect(mw.ci95_classes![0]).toBeLessThanOrEqual(mw.diff);
    expect(mw.ci95_classes![1]).toBeGreaterThanOrEqual(mw.diff);
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('is deterministic for a seed and changes with it', () => {
    const again = visionMetrics({ classNames: A.map((_, i) => `c${i}`), labels, predictions: preds, truncated: cut }, { seed: 3, resamples: 500 });
    expect(again).toEqual(m);
    // 40 classes of unequal sizes: the percentile interval is (almost) continuous, so another seed moves it.
    const n = Array.from({ length: 40 }, (_, i) => 3 + (i % 7));
    const c = n.map((x, i) => Math.floor((x * ((i * 37) % 11)) / 10));
    const one = bootstrapAccuracyOverClasses(c, n, { seed: 3 });
    expect(bootstrapAccuracyOverClasses(c, n, { seed: 3 })).toEqual(one);
    expect(bootstrapAccuracyOverClasses(c, n, { seed: 4 })).not.toEqual(one);
  });

  it('the full default persona list yields the paper contrasts', () => {
    const cs = defaultContrasts(DEFAULT_PERSONAS);
    expect(cs.filter((c) => c.kind === 'bias').map((c) => [c.a, c.b])).toEqual([['man', 'woman'], ['black person', 'white person'], ['ornithologist', 'car mechanic']]);
    expect(cs.filter((c) => c.kind === 'vs_none')).toHaveLength(11);
    expect(cs.filter((c) => c.kind === 'vs_class_name')).toHaveLength(12);
  });

  it('bad input names the persona and the count', () => {
    const classNames = ['x', 'y'];
    expect(() => visionMetrics({ classNames, labels: [0, 1], predictions: { man: [0] } })).toThrow(/"man" has 1 predictions for 2 images/);
    expect(() => visionMetrics({ classNames, labels: [0, 2], predictions: {} })).toThrow(/label of image 1 is 2/);
    expect(() => visionMetrics({ classNames, labels: [0, 1], predictions: { man: [0, 1] }, truncated: { man: [true] } })).toThrow(/1 truncation flags for 2 classes/);
    expect(() => visionMetrics({ classNames, labels: [0, 1], predictions: { man: [0, 1] } }, { contrasts: [{ a: 'man', b: 'woman', kind: 'bias' }] })).toThrow(/no predictions for persona "woman"/);
  });

  it('bootstrap over classes: one class gives no interval; equal accuracies give a point', () => {
    expect(bootstrapAccuracyOverClasses([3], [4])).toBeNull();
    expect(bootstrapAccuracyOverClasses([2, 2, 2], [4, 4, 4])).toEqual([0.5, 0.5]);
  });
});

describe('replicates', () => {
  it('mean, SD and t interval over replicate accuracies (scipy: t.ppf(0.975, 2) = 4.302652729749462)', () => {
    const r = replicateSummary([0.5, 0.6, 0.7]);
    expect(r.mean).toBeCloseTo(0.6, 12);
    expect(r.sd).toBeCloseTo(0.1, 12);
    expect(r.t95![0]).toBeCloseTo(0.6 - (4.302652729749462 * 0.1) / Math.sqrt(3), 9);
    expect(replicateSummary([0.4])).toMatchObject({ replicates: 1, sd: null, t95: null });
  });
});
