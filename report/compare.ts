/**
 * Two runs compared persona by persona on the same items (e.g. plain vs chat format, or two models): MMLU pairs each
 * persona's answers by question (exact McNemar, question-clustered paired bootstrap CI of accuracy B − A, Holm and
 * BH over the personas); the bandit pairs each persona's games by game index (bootstrap CI of mean regret B − A).
 */
import { bhAdjust, bootstrapFamily, holmAdjust, mcnemarExact, pairedBootstrapDiff } from '../stats/paired.js';
import type { Interval } from '../stats/intervals.js';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from '../tasks/mmlu/comparisons.js';

export interface RunComparisonRow {
  persona: string;
  /** Paired items (MMLU) or games (bandit). */
  n: number;
  a: number | null;
  b: number | null;
  /** b − a. */
  diff: number | null;
  ci95: Interval | null;
  /** MMLU only: exact McNemar p and its adjustments over the personas. */
  p_mcnemar?: number;
  p_holm?: number;
  p_bh?: number;
}

export interface RunComparison {
  metric: 'accuracy' | 'regret';
  /** What the pairs are ("question", "game", "image (bootstrap over classes)"), for the CLI's header. */
  paired_by: string;
  /** Personas of one run only (not compared). */
  only_a: string[];
  only_b: string[];
  rows: RunComparisonRow[];
}

export interface ItemOutcome {
  persona: string;
  item: string;
  sample: number;
  correct: boolean | null;
}

function personaSplit(a: Iterable<string>, b: Iterable<string>) {
  const sa = new Set(a);
  const sb = new Set(b);
  return { both: [...sa].filter((p) => sb.has(p)), only_a: [...sa].filter((p) => !sb.has(p)), only_b: [...sb].filter((p) => !sa.has(p)) };
}

export function compareMmluRuns(a: readonly ItemOutcome[], b: readonly ItemOutcome[], opts: { resamples?: number; seed?: number; cluster?: (item: string) => string } = {}): RunComparison {
  const clusterOf = opts.cluster ?? ((item: string) => item);
  const key = (o: ItemOutcome) => JSON.stringify([o.persona, o.item, o.sample]);
  const bByKey = new Map(b.filter((o) => o.correct !== null).map((o) => [key(o), o.correct as boolean]));
  const { both, only_a, only_b } = personaSplit(a.map((o) => o.persona), b.map((o) => o.persona));
  const rows = both.map((persona): RunComparisonRow => {
    const pairs = a
      .filter((o) => o.persona === persona && o.correct !== null && bByKey.has(key(o)))
      .map((o) => ({ question: o.item, inA: o.correct as boolean, inB: bByKey.get(key(o))! }));
    // pairedBootstrapDiff gives a − b of its pairs: hand it run B as a, so the difference is B − A.
    const d = pairedBootstrapDiff(pairs.map((p) => ({ cluster: clusterOf(p.question), a: p.inB, b: p.inA })), {
      resamples: opts.resamples ?? BOOTSTRAP_RESAMPLES, seed: opts.seed ?? BOOTSTRAP_SEED, keys: ['compare', persona],
    });
    const n = pairs.length;
    return {
      persona,
      n,
      a: n ? pairs.filter((p) => p.inA).length / n : null,
      b: n ? pairs.filter((p) => p.inB).length / n : null,
      diff: n ? d.diff : null,
      ci95: d.ci95,
      p_mcnemar: mcnemarExact(pairs.filter((p) => p.inB && !p.inA).length, pairs.filter((p) => p.inA && !p.inB).length).p,
    };
  });
  const holm = holmAdjust(rows.map((r) => r.p_mcnemar!));
  const bh = bhAdjust(rows.map((r) => r.p_mcnemar!));
  rows.forEach((r, i) => Object.assign(r, { p_holm: holm[i], p_bh: bh[i] }));
  return { metric: 'accuracy', paired_by: 'question', only_a, only_b, rows };
}

/** One persona's prediction on one test image of a vision run. */
export interface ImageOutcome {
  persona: string;
  image: string;
  /** The image's class: the bootstrap resamples classes (images of a class share the persona's text). */
  cls: string;
  correct: boolean;
}

/**
 * Vision runs (e.g. two LLMs, or truncation seed vs eos) on the same test images: per persona, accuracy B − A over
 * the images both runs scored, a paired bootstrap interval resampling whole classes, exact McNemar on the discordant
 * images, Holm and BH over the personas.
 */
export function compareVisionRuns(a: readonly ImageOutcome[], b: readonly ImageOutcome[], opts: { resamples?: number; seed?: number } = {}): RunComparison {
  const c = compareMmluRuns(
    a.map((o) => ({ persona: o.persona, item: `${o.cls}\u0000${o.image}`, sample: 0, correct: o.correct })),
    b.map((o) => ({ persona: o.persona, item: `${o.cls}\u0000${o.image}`, sample: 0, correct: o.correct })),
    { ...opts, cluster: (item) => item.split('\u0000')[0]! },
  );
  return { ...c, paired_by: 'image (bootstrap over classes)' };
}

export interface GameRegret {
  persona: string;
  game: number;
  /** Mean expected regret of the game; null if it was abandoned. */
  regret: number | null;
}

export function compareBanditRuns(a: readonly GameRegret[], b: readonly GameRegret[], opts: { resamples?: number; seed?: number } = {}): RunComparison {
  const key = (g: GameRegret) => JSON.stringify([g.persona, g.game]);
  const bByKey = new Map(b.filter((g) => g.regret !== null).map((g) => [key(g), g.regret as number]));
  const { both, only_a, only_b } = personaSplit(a.map((g) => g.persona), b.map((g) => g.persona));
  const rows = both.map((persona): RunComparisonRow => {
    const pairs = a.filter((g) => g.persona === persona && g.regret !== null && bByKey.has(key(g))).map((g) => ({ game: g.game, a: g.regret as number, b: bByKey.get(key(g))! }));
    const n = pairs.length;
    // The bootstrap works on per-cluster sums, so a continuous difference goes through it unchanged.
    const d = bootstrapMeanDiff(pairs, opts);
    return { persona, n, a: n ? pairs.reduce((s, p) => s + p.a, 0) / n : null, b: n ? pairs.reduce((s, p) => s + p.b, 0) / n : null, diff: n ? d.diff : null, ci95: d.ci95 };
  });
  return { metric: 'regret', paired_by: 'game', only_a, only_b, rows };
}

function bootstrapMeanDiff(pairs: { game: number; a: number; b: number }[], opts: { resamples?: number; seed?: number }) {
  const d = Float64Array.from(pairs, (p) => p.b - p.a);
  const n = new Float64Array(pairs.length).fill(1);
  return bootstrapFamily([{ d, n }], { resamples: opts.resamples ?? BOOTSTRAP_RESAMPLES, seed: opts.seed ?? BOOTSTRAP_SEED, keys: ['compare-bandit'] })[0]!;
}
