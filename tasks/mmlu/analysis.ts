/**
 * The paper's MMLU expert analysis (SPEC §2 "Paper analysis"): per subject, the task expert's accuracy against the
 * mean accuracy of the domain experts (experts of the other subjects of the same category), the non-domain experts
 * (experts of subjects of other categories), the neutral personas and the 25 % random baseline; then each of these
 * averaged over the subjects of a category, with a 95 % t-interval over the per-subject values.
 *
 * Group means are unweighted over personas (each persona's accuracy on the subject counts once, whatever its number
 * of scored items), and category means unweighted over subjects, as "average task accuracy" reads in the paper.
 */
import { mean, tCi95, wilsonCi95, type Interval } from '../../stats/intervals.js';
import {
  MMLU_CATEGORY_NAMES,
  MMLU_SUBJECTS,
  expertPersonaFor,
  isMmluSubject,
  subjectCategory,
  type MmluCategory,
  type MmluSubject,
} from './categories.js';

export const RANDOM_BASELINE = 0.25;

// ---- per-cell metrics ----

/** One scored item: `correct` is null when the answer was discarded (no valid letter after the retries). */
export interface CellResult {
  persona: string;
  subject: string;
  correct: boolean | null;
}

export interface PersonaSubjectMetrics {
  persona: string;
  subject: string;
  /** Scored (non-discarded) items. */
  n: number;
  correct: number;
  /** correct / n; null when n = 0. */
  accuracy: number | null;
  /** Wilson 95 % interval of the accuracy; null when n = 0. */
  ci95: Interval | null;
  discarded: number;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cellKey = (persona: string, subject: string): string => JSON.stringify([persona, subject]);

/** Aggregate item results per (persona, subject), sorted by persona then subject (code-unit order, locale-free). */
export function personaSubjectMetrics(rows: readonly CellResult[]): PersonaSubjectMetrics[] {
  const cells = new Map<string, { persona: string; subject: string; n: number; correct: number; discarded: number }>();
  for (const { persona, subject, correct } of rows) {
    const key = cellKey(persona, subject);
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { persona, subject, n: 0, correct: 0, discarded: 0 }));
    if (correct === null) cell.discarded++;
    else {
      cell.n++;
      if (correct) cell.correct++;
    }
  }
  return [...cells.values()]
    .sort((a, b) => byCodeUnits(a.persona, b.persona) || byCodeUnits(a.subject, b.subject))
    .map(({ persona, subject, n, correct, discarded }) => ({
      persona,
      subject,
      n,
      correct,
      accuracy: n > 0 ? correct / n : null,
      ci95: wilsonCi95(correct, n),
      discarded,
    }));
}

// ---- expert analysis ----

/** Scored counts of one persona on one subject (e.g. a row of `personaSubjectMetrics`). */
export interface CellAccuracy {
  persona: string;
  subject: string;
  n: number;
  correct: number;
}

export interface PersonaGroups {
  /** subject → the persona that is that subject's task expert. One persona may be the expert of one subject only. */
  experts: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Personas of the neutral group; they must not also be experts. */
  neutral: readonly string[];
}

/** The seed's 57 task experts (`expertPersonaFor`) plus the given neutral personas. */
export function defaultPersonaGroups(neutral: readonly string[] = []): PersonaGroups {
  return { experts: new Map(MMLU_SUBJECTS.map((s) => [s, expertPersonaFor(s)])), neutral };
}

export interface GroupAccuracy {
  /** Personas of the group with at least one scored item on this subject. */
  n_personas: number;
  /** Unweighted mean of their accuracies; null when n_personas = 0. */
  accuracy: number | null;
}

export interface TaskExpertResult {
  persona: string;
  n: number;
  correct: number;
  accuracy: number | null;
  ci95: Interval | null;
}

export interface SubjectAnalysis {
  subject: MmluSubject;
  category: MmluCategory;
  /** The subject's task-expert persona per the groups; null when the groups name none. */
  expert_persona: string | null;
  /** The task expert's result; null when there is no expert or it has no cell for this subject. */
  task_expert: TaskExpertResult | null;
  domain_experts: GroupAccuracy;
  non_domain_experts: GroupAccuracy;
  neutral: GroupAccuracy;
  random: number;
}

export interface GroupSummary {
  /** Subjects of the category where this group has a value. */
  n_subjects: number;
  mean: number | null;
  /** Student-t 95 % interval over the per-subject values; null when n_subjects < 2. */
  ci95: Interval | null;
}

export interface CategorySummary {
  category: MmluCategory | 'all';
  /** Subjects of the category present in the data. */
  n_subjects: number;
  task_expert: GroupSummary;
  domain_experts: GroupSummary;
  non_domain_experts: GroupSummary;
  neutral: GroupSummary;
  random: number;
}

export interface ExpertAnalysis {
  random_baseline: number;
  /** Subjects present in the data, alphabetical. */
  subjects: SubjectAnalysis[];
  /** The four MMLU categories in published order (present in the data or not), then 'all'. */
  categories: CategorySummary[];
}

function normaliseGroups(groups: PersonaGroups): { experts: Map<MmluSubject, string>; neutral: Set<string> } {
  const entries = groups.experts instanceof Map ? [...groups.experts] : Object.entries(groups.experts);
  const experts = new Map<MmluSubject, string>();
  const subjectOf = new Map<string, string>();
  for (const [subject, persona] of entries as [string, string][]) {
    if (!isMmluSubject(subject)) throw new Error(`persona groups: unknown MMLU subject ${JSON.stringify(subject)}`);
    const other = subjectOf.get(persona);
    // An expert of two subjects would be task expert and domain/non-domain expert at once.
    if (other !== undefined) throw new Error(`persona groups: ${persona} is the expert of ${other} and ${subject}`);
    subjectOf.set(persona, subject);
    experts.set(subject, persona);
  }
  for (const p of groups.neutral) {
    if (subjectOf.has(p)) throw new Error(`persona groups: ${p} is both neutral and the expert of ${subjectOf.get(p)}`);
  }
  return { experts, neutral: new Set(groups.neutral) };
}

function groupAccuracy(personas: Iterable<string>, accuracyOf: (persona: string) => number | null): GroupAccuracy {
  const accs: number[] = [];
  for (const p of new Set(personas)) {
    const a = accuracyOf(p);
    if (a !== null) accs.push(a);
  }
  return { n_personas: accs.length, accuracy: accs.length > 0 ? mean(accs) : null };
}

function summarise(values: readonly (number | null)[]): GroupSummary {
  const xs = values.filter((v): v is number => v !== null);
  return { n_subjects: xs.length, mean: xs.length > 0 ? mean(xs) : null, ci95: tCi95(xs) };
}

export function analyzeExperts(cells: readonly CellAccuracy[], groups: PersonaGroups): ExpertAnalysis {
  const { experts, neutral } = normaliseGroups(groups);
  const cellByKey = new Map<string, CellAccuracy>();
  const present = new Set<MmluSubject>();
  for (const c of cells) {
    if (!isMmluSubject(c.subject)) throw new Error(`unknown MMLU subject ${JSON.stringify(c.subject)}`);
    if (!Number.isInteger(c.n) || !Number.isInteger(c.correct) || c.n < 0 || c.correct < 0 || c.correct > c.n) {
      throw new RangeError(`invalid counts for ${c.persona} / ${c.subject}: ${c.correct}/${c.n}`);
    }
    const key = cellKey(c.persona, c.subject);
    if (cellByKey.has(key)) throw new Error(`duplicate cell ${c.persona} / ${c.subject}`);
    cellByKey.set(key, c);
    present.add(c.subject);
  }

  const subjects = MMLU_SUBJECTS.filter((s) => present.has(s)).map((subject): SubjectAnalysis => {
    const category = subjectCategory(subject);
    const accuracyOf = (persona: string): number | null => {
      const c = cellByKey.get(cellKey(persona, subject));
      return c && c.n > 0 ? c.correct / c.n : null;
    };
    const expert = experts.get(subject) ?? null;
    const expertCell = expert === null ? undefined : cellByKey.get(cellKey(expert, subject));
    const others = [...experts].filter(([s]) => s !== subject);
    return {
      subject,
      category,
      expert_persona: expert,
      task_expert:
        expert === null || expertCell === undefined
          ? null
          : {
              persona: expert,
              n: expertCell.n,
              correct: expertCell.correct,
              accuracy: accuracyOf(expert),
              ci95: wilsonCi95(expertCell.correct, expertCell.n),
            },
      domain_experts: groupAccuracy(
        others.filter(([s]) => subjectCategory(s) === category).map(([, p]) => p),
        accuracyOf,
      ),
      non_domain_experts: groupAccuracy(
        others.filter(([s]) => subjectCategory(s) !== category).map(([, p]) => p),
        accuracyOf,
      ),
      neutral: groupAccuracy(neutral, accuracyOf),
      random: RANDOM_BASELINE,
    };
  });

  const summary = (category: MmluCategory | 'all'): CategorySummary => {
    const rows = category === 'all' ? subjects : subjects.filter((s) => s.category === category);
    return {
      category,
      n_subjects: rows.length,
      task_expert: summarise(rows.map((r) => r.task_expert?.accuracy ?? null)),
      domain_experts: summarise(rows.map((r) => r.domain_experts.accuracy)),
      non_domain_experts: summarise(rows.map((r) => r.non_domain_experts.accuracy)),
      neutral: summarise(rows.map((r) => r.neutral.accuracy)),
      random: RANDOM_BASELINE,
    };
  };

  return {
    random_baseline: RANDOM_BASELINE,
    subjects,
    categories: [...MMLU_CATEGORY_NAMES.map(summary), summary('all')],
  };
}
