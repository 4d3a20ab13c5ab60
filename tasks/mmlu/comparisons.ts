/**
 * Every persona against the controls (the no-persona baseline `none` and each neutral persona) on the same items:
 * exact McNemar on the discordant items, a question-clustered paired bootstrap interval of the accuracy difference,
 * and Holm and Benjamini–Hochberg adjusted p-values within each control's family of comparisons.
 */
import { bhAdjust, bootstrapFamily, holmAdjust, mcnemarExact, type ClusterSums } from '../../stats/paired.js';
import type { Interval } from '../../stats/intervals.js';

/** One scored (or discarded: correct null) item; `question` is the cluster, `item` + `sample` pair the personas. */
export interface ScoredItem {
  persona: string;
  question: string;
  sample: number;
  correct: boolean | null;
}

export interface PersonaComparison {
  persona: string;
  control: string;
  /** Items scored for both. */
  n: number;
  questions: number;
  accuracy: number | null;
  control_accuracy: number | null;
  /** accuracy − control_accuracy on the paired items. */
  diff: number | null;
  /** Paired bootstrap 95 % interval of diff, resampling questions; null below two questions. */
  ci95: Interval | null;
  /** Right for the persona, wrong for the control; and the reverse. */
  only_persona: number;
  only_control: number;
  p_mcnemar: number;
  p_holm: number;
  p_bh: number;
}

export interface PersonaTests {
  method: string;
  resamples: number;
  seed: number;
  controls: string[];
  comparisons: PersonaComparison[];
}

export const BOOTSTRAP_SEED = 2016;
export const BOOTSTRAP_RESAMPLES = 2000;

export function comparePersonas(
  items: readonly ScoredItem[],
  personas: readonly string[],
  controls: readonly string[],
  opts: { resamples?: number; seed?: number } = {},
): PersonaTests {
  const resamples = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = opts.seed ?? BOOTSTRAP_SEED;
  const questionIndex = new Map<string, number>();
  const byPersona = new Map<string, Map<string, { q: number; correct: boolean }>>();
  for (const it of items) {
    if (it.correct === null) continue;
    if (!questionIndex.has(it.question)) questionIndex.set(it.question, questionIndex.size);
    let m = byPersona.get(it.persona);
    if (!m) byPersona.set(it.persona, (m = new Map()));
    m.set(JSON.stringify([it.question, it.sample]), { q: questionIndex.get(it.question)!, correct: it.correct });
  }
  const k = questionIndex.size;
  const present = controls.filter((c) => byPersona.has(c));
  const comparisons: PersonaComparison[] = [];
  for (const control of present) {
    const ctrl = byPersona.get(control)!;
    const others = personas.filter((p) => p !== control && byPersona.has(p));
    const counts = others.map((persona) => {
      const mine = byPersona.get(persona)!;
      const sums: ClusterSums = { d: new Float64Array(k), n: new Float64Array(k) };
      let onlyP = 0, onlyC = 0, rightP = 0, rightC = 0, n = 0;
      for (const [key, c] of ctrl) {
        const p = mine.get(key);
        if (!p) continue;
        n++;
        rightP += Number(p.correct);
        rightC += Number(c.correct);
        if (p.correct && !c.correct) onlyP++;
        if (!p.correct && c.correct) onlyC++;
        sums.d[c.q]! += Number(p.correct) - Number(c.correct);
        sums.n[c.q]! += 1;
      }
      return { persona, sums, onlyP, onlyC, rightP, rightC, n };
    });
    const boots = bootstrapFamily(counts.map((c) => c.sums), { resamples, seed, keys: [control] });
    const ps = counts.map((c) => mcnemarExact(c.onlyP, c.onlyC).p);
    const holm = holmAdjust(ps);
    const bh = bhAdjust(ps);
    counts.forEach((c, i) => {
      comparisons.push({
        persona: c.persona,
        control,
        n: c.n,
        questions: boots[i]!.clusters,
        accuracy: c.n ? c.rightP / c.n : null,
        control_accuracy: c.n ? c.rightC / c.n : null,
        diff: c.n ? boots[i]!.diff : null,
        ci95: boots[i]!.ci95,
        only_persona: c.onlyP,
        only_control: c.onlyC,
        p_mcnemar: ps[i]!,
        p_holm: holm[i]!,
        p_bh: bh[i]!,
      });
    });
  }
  return {
    method:
      'exact McNemar (two-sided) on discordant items; paired bootstrap percentile 95 % CI of the accuracy difference, ' +
      'resampling questions with replacement (common resamples per control); Holm and Benjamini-Hochberg adjustment within each control',
    resamples,
    seed,
    controls: present,
    comparisons,
  };
}
