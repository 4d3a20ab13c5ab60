/**
 * Scoring and statistics of the vision task. The seed computes only the micro accuracy per persona (VISION.md §5);
 * everything else here (intervals, bootstrap over classes, per-class accuracy, cut fraction, paired bias tests with
 * Holm correction) is new work, built on stats/intervals.ts and stats/paired.ts.
 *
 * - `zeroShotPredict`: logits = 100 · img · txtᵀ over L2-normalised embeddings, argmax with ties going to the lowest
 *   class index (torch `argmax` / torchmetrics on the softmax, as the seed). The seed's truncation bug gives every cut
 *   text the same embedding, so those classes tie exactly and the lowest index wins — reproduced because identical
 *   vectors give identical dot products here.
 * - Per persona: micro accuracy, Wilson 95 % interval over images, percentile bootstrap over classes (classes
 *   resampled with replacement, accuracy = Σ correct / Σ images of the drawn classes; deterministic seed), accuracy
 *   per class, and the fraction of classes whose CLIP text was cut at 77 tokens.
 * - Contrasts a − b over the same images: exact McNemar on the discordant images, and a paired sign-flip permutation
 *   test over classes (statistic Σ_c Σ_i (a − b); exact enumeration when at most 16 classes differ, else seeded Monte
 *   Carlo with p = (1 + #{|T*| ≥ |T|}) / (M + 1)); bootstrap-over-classes interval of the difference; Holm-adjusted
 *   p-values across the whole contrast family, separately for each test.
 */
import { mcnemarExact, bootstrapFamily, holmAdjust, quantileSorted } from '../../stats/paired.js';
import { mean, sampleSd, tCi95, wilsonCi95, type Interval } from '../../stats/intervals.js';
import { streamFor } from '../bandit/rng.js';
import { CLASS_NAME_PERSONA, NONE_PERSONA } from './prompts.js';

/** exp(logit_scale) of openai/clip-vit-base-patch32; the argmax does not depend on it. */
export const LOGIT_SCALE = 100;

export function l2Normalize(v: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  if (!(n > 0)) throw new RangeError('cannot L2-normalise a zero (or non-finite) embedding');
  return Float64Array.from(v as ArrayLike<number>, (x) => x / n);
}

/** Logits of one image against every class text (both L2-normalised here; normalising twice changes nothing). */
export function zeroShotLogits(image: ArrayLike<number>, texts: readonly ArrayLike<number>[]): Float64Array {
  const img = l2Normalize(image);
  return Float64Array.from(texts, (t, c) => {
    if (t.length !== img.length) throw new RangeError(`text embedding ${c} has ${t.length} dimensions, the image ${img.length}`);
    const txt = l2Normalize(t);
    let d = 0;
    for (let i = 0; i < img.length; i++) d += img[i]! * txt[i]!;
    return LOGIT_SCALE * d;
  });
}

/** Index of the largest value; ties go to the lowest index (NaN never wins). */
export function argmaxLowest(xs: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < xs.length; i++) if (best < 0 ? !Number.isNaN(xs[i]!) : xs[i]! > xs[best]!) best = i;
  if (best < 0) throw new RangeError('argmax of an empty or all-NaN row');
  return best;
}

/** Predicted class per image. `texts[c]` is the embedding of class c's text, in the data set's class order. */
export function zeroShotPredict(images: readonly ArrayLike<number>[], texts: readonly ArrayLike<number>[]): number[] {
  if (texts.length === 0) throw new RangeError('no class texts to classify against');
  const normTexts = texts.map(l2Normalize);
  return images.map((im) => argmaxLowest(zeroShotLogits(im, normTexts)));
}

export interface ScoreInput {
  classNames: readonly string[];
  /** True class index per test image. */
  labels: readonly number[];
  /** Predicted class per test image, per persona (same image order as labels). */
  predictions: Readonly<Record<string, readonly number[]>>;
  /** Per persona, per class: was its CLIP text cut at 77 tokens. */
  truncated?: Readonly<Record<string, readonly boolean[]>>;
}

export interface ContrastSpec {
  a: string;
  b: string;
  kind: 'bias' | 'vs_none' | 'vs_class_name';
}

export interface MetricsOptions {
  seed?: number;
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** Monte-Carlo permutations when the exact test is too large (default 10000). */
  permutations?: number;
  /** Default: `defaultContrasts(personas)`. */
  contrasts?: ContrastSpec[];
}

export interface PersonaMetrics {
  n: number;
  correct: number;
  accuracy: number;
  wilson95: Interval | null;
  /** Percentile interval of the accuracy over class resamples. */
  bootstrap95_classes: Interval | null;
  /** Accuracy per class (class order); null for a class without test images. */
  per_class: (number | null)[];
  /** Fraction of classes whose text was cut at 77 tokens; null when not recorded. */
  cut_fraction: number | null;
  cut_classes: number | null;
}

export interface ContrastMetrics extends ContrastSpec {
  n: number;
  /** accuracy(a) − accuracy(b). */
  diff: number;
  ci95_classes: Interval | null;
  mcnemar: { only_a: number; only_b: number; p: number; p_holm: number };
  permutation: { p: number; p_holm: number; exact: boolean; permutations: number; classes_differing: number };
}

export interface VisionMetrics {
  task: 'vision';
  n_images: number;
  n_classes: number;
  class_names: string[];
  personas: Record<string, PersonaMetrics>;
  contrasts: ContrastMetrics[];
  settings: { seed: number; resamples: number; permutations: number; exact_permutation_max_classes: number; holm_family: string };
}

/** The paper's bias contrasts, then every persona vs `none` and vs `class_name`, for the personas present. */
export function defaultContrasts(personas: readonly string[]): ContrastSpec[] {
  const has = new Set(personas);
  const out: ContrastSpec[] = [];
  for (const [a, b] of [
    ['man', 'woman'],
    ['black person', 'white person'],
    ['ornithologist', 'car mechanic'],
  ] as const) {
    if (has.has(a) && has.has(b)) out.push({ a, b, kind: 'bias' });
  }
  if (has.has(NONE_PERSONA)) for (const p of personas) if (p !== NONE_PERSONA && p !== CLASS_NAME_PERSONA) out.push({ a: p, b: NONE_PERSONA, kind: 'vs_none' });
  if (has.has(CLASS_NAME_PERSONA)) for (const p of personas) if (p !== CLASS_NAME_PERSONA) out.push({ a: p, b: CLASS_NAME_PERSONA, kind: 'vs_class_name' });
  return out;
}

export const EXACT_PERMUTATION_MAX_CLASSES = 16;

/**
 * Two-sided paired permutation test over clusters: `d[c]` = Σ over cluster c of (a − b), integers. Under H0 the two
 * personas' outcomes are exchangeable within each class, i.e. each d[c] flips sign. Equal to
 * `scipy.stats.permutation_test(..., permutation_type='samples')` on per-class sums (tests/vision.metrics.test.ts).
 */
export function pairedPermutationTest(d: readonly number[], opts: { seed?: number; permutations?: number; keys?: (string | number)[] } = {}): { p: number; exact: boolean; permutations: number; nonzero: number } {
  const nz = d.filter((x) => x !== 0);
  const t = Math.abs(nz.reduce((s, x) => s + x, 0));
  if (nz.length === 0) return { p: 1, exact: true, permutations: 1, nonzero: 0 };
  if (nz.length <= EXACT_PERMUTATION_MAX_CLASSES) {
    const total = 2 ** nz.length;
    let hits = 0;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let j = 0; j < nz.length; j++) s += mask & (1 << j) ? -nz[j]! : nz[j]!;
      if (Math.abs(s) >= t) hits++;
    }
    return { p: hits / total, exact: true, permutations: total, nonzero: nz.length };
  }
  const m = opts.permutations ?? 10000;
  const rng = streamFor(opts.seed ?? 2016, 'vision-permutation', ...(opts.keys ?? []));
  let hits = 0;
  for (let r = 0; r < m; r++) {
    let s = 0;
    let bits = 0;
    for (let j = 0; j < nz.length; j++) {
      if ((j & 31) === 0) bits = rng.nextU32();
      s += (bits >>> (j & 31)) & 1 ? -nz[j]! : nz[j]!;
    }
    if (Math.abs(s) >= t) hits++;
  }
  return { p: (1 + hits) / (m + 1), exact: false, permutations: m, nonzero: nz.length };
}

/** Percentile bootstrap over classes of a micro accuracy: `correct[c]`, `n[c]` per class. */
export function bootstrapAccuracyOverClasses(correct: readonly number[], n: readonly number[], opts: { seed?: number; resamples?: number; keys?: (string | number)[] } = {}): Interval | null {
  const k = n.length;
  if (k < 2) return null;
  const resamples = opts.resamples ?? 2000;
  const rng = streamFor(opts.seed ?? 2016, 'vision-bootstrap-classes', ...(opts.keys ?? []));
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let c = 0, m = 0;
    for (let i = 0; i < k; i++) {
      const j = Math.floor((rng.nextU32() * k) / 4294967296);
      c += correct[j]!;
      m += n[j]!;
    }
    if (m > 0) stats.push(c / m);
  }
  if (stats.length === 0) return null;
  stats.sort((x, y) => x - y);
  return [quantileSorted(stats, 0.025), quantileSorted(stats, 0.975)];
}

function checkInput(input: ScoreInput): void {
  const k = input.classNames.length;
  if (k === 0) throw new RangeError('no classes to score');
  input.labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= k) throw new RangeError(`label of image ${i} is ${l}, outside 0..${k - 1}`);
  });
  for (const [p, preds] of Object.entries(input.predictions)) {
    if (preds.length !== input.labels.length) throw new RangeError(`persona "${p}" has ${preds.length} predictions for ${input.labels.length} images`);
    preds.forEach((x, i) => {
      if (!Number.isInteger(x) || x < 0 || x >= k) throw new RangeError(`persona "${p}" predicts ${x} for image ${i}, outside 0..${k - 1}`);
    });
  }
  for (const [p, cut] of Object.entries(input.truncated ?? {})) {
    if (cut.length !== k) throw new RangeError(`persona "${p}" has ${cut.length} truncation flags for ${k} classes`);
  }
}

/** metrics.json of a vision run. */
export function visionMetrics(input: ScoreInput, opts: MetricsOptions = {}): VisionMetrics {
  checkInput(input);
  const seed = opts.seed ?? 2016;
  const resamples = opts.resamples ?? 2000;
  const permutations = opts.permutations ?? 10000;
  const k = input.classNames.length;
  const personas = Object.keys(input.predictions);
  const nPerClass = new Array<number>(k).fill(0);
  for (const l of input.labels) nPerClass[l]!++;
  const correctOf = (p: string) => input.predictions[p]!.map((x, i) => x === input.labels[i]);

  const out: Record<string, PersonaMetrics> = {};
  for (const p of personas) {
    const ok = correctOf(p);
    const perClass = new Array<number>(k).fill(0);
    ok.forEach((c, i) => c && perClass[input.labels[i]!]!++);
    const correct = perClass.reduce((s, x) => s + x, 0);
    const cut = input.truncated?.[p];
    const cutClasses = cut ? cut.filter(Boolean).length : null;
    out[p] = {
      n: ok.length,
      correct,
      accuracy: ok.length ? correct / ok.length : NaN,
      wilson95: wilsonCi95(correct, ok.length),
      bootstrap95_classes: bootstrapAccuracyOverClasses(perClass, nPerClass, { seed, resamples, keys: [p] }),
      per_class: perClass.map((c, i) => (nPerClass[i]! > 0 ? c / nPerClass[i]! : null)),
      cut_fraction: cutClasses === null ? null : cutClasses / k,
      cut_classes: cutClasses,
    };
  }

  const specs = (opts.contrasts ?? defaultContrasts(personas)).filter((c) => {
    for (const q of [c.a, c.b]) if (!(q in input.predictions)) throw new RangeError(`contrast ${c.a} vs ${c.b}: no predictions for persona "${q}"`);
    return true;
  });
  const sums = specs.map((c) => {
    const a = correctOf(c.a), b = correctOf(c.b);
    const d = new Float64Array(k);
    let onlyA = 0, onlyB = 0;
    a.forEach((x, i) => {
      const v = Number(x) - Number(b[i]);
      d[input.labels[i]!]! += v;
      if (v > 0) onlyA++;
      else if (v < 0) onlyB++;
    });
    return { d, onlyA, onlyB };
  });
  const boot = bootstrapFamily(sums.map((s) => ({ d: s.d, n: Float64Array.from(nPerClass) })), { seed, resamples, keys: ['vision-contrasts'] });
  const mc = sums.map((s) => mcnemarExact(s.onlyA, s.onlyB));
  const perm = sums.map((s, j) => pairedPermutationTest([...s.d], { seed, permutations, keys: [specs[j]!.a, specs[j]!.b] }));
  const mcHolm = holmAdjust(mc.map((m) => m.p));
  const permHolm = holmAdjust(perm.map((m) => m.p));
  const contrasts = specs.map((c, j): ContrastMetrics => ({
    ...c,
    n: input.labels.length,
    diff: boot[j]!.diff,
    ci95_classes: boot[j]!.ci95,
    mcnemar: { only_a: mc[j]!.onlyA, only_b: mc[j]!.onlyB, p: mc[j]!.p, p_holm: mcHolm[j]! },
    permutation: { p: perm[j]!.p, p_holm: permHolm[j]!, exact: perm[j]!.exact, permutations: perm[j]!.permutations, classes_differing: perm[j]!.nonzero },
  }));
  return {
    task: 'vision',
    n_images: input.labels.length,
    n_classes: k,
    class_names: [...input.classNames],
    personas: out,
    contrasts,
    settings: { seed, resamples, permutations, exact_permutation_max_classes: EXACT_PERMUTATION_MAX_CLASSES, holm_family: 'all contrasts, separately for McNemar and for the permutation test' },
  };
}

/**
 * Replicates (describe.replicates ≥ 2, VISION.md §8.1): each replicate's descriptions give one accuracy per persona;
 * their mean, sample SD and Student-t 95 % interval estimate the description-sampling variance the seed (R = 1)
 * cannot show. Paired tests stay per replicate (replicate 0 is the faithful run).
 */
export function replicateSummary(accuracies: readonly number[]): { replicates: number; mean: number; sd: number | null; t95: Interval | null } {
  if (accuracies.length === 0) throw new RangeError('no replicate accuracies');
  return { replicates: accuracies.length, mean: mean(accuracies), sd: accuracies.length > 1 ? sampleSd(accuracies) : null, t95: tCi95(accuracies) };
}
