/** Reduce an MMLU run's stored cells into results.csv and metrics.json (per persona × subject, plus the paper's
 * expert analysis). Re-reads the store by key, so running it twice gives the same files. */
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { CellResult } from '../../store/results.js';
import { modelLabel } from '../../experiment/load.js';
import type { MmluSpec } from '../../tasks/mmlu/config.js';
import { analyzeExperts, personaSubjectMetrics, type ExpertAnalysis, type PersonaGroups, type PersonaSubjectMetrics } from './analysis.js';
import { MMLU_SUBJECTS, expertPersonaFor } from './categories.js';
import { comparePersonas, type PersonaTests } from './comparisons.js';
import { OPTION_LETTERS } from './data.js';
import { wilsonCi95, type Interval } from '../../stats/intervals.js';

export interface PersonaTotal {
  persona: string;
  n: number;
  correct: number;
  accuracy: number | null;
  ci95: Interval | null;
  discarded: number;
  /** generate_fork: answers that were not A-D and counted as "C". */
  invalid: number;
}

export interface MmluMetrics {
  run: string;
  task: 'mmlu';
  model: string;
  /** Present when the model is a fallback with a warning (e.g. random weights). */
  model_warning?: string;
  template: string;
  format: string;
  scoring: string;
  split: string;
  subjects: string[];
  personas: string[];
  cells: number;
  discarded: number;
  per_persona: PersonaTotal[];
  per_persona_subject: PersonaSubjectMetrics[];
  expert_analysis: ExpertAnalysis;
  /** API logits mode: cells whose options were not all in the server's top_logprobs list (absent ones got the floor). */
  top_logprobs: TopLogprobsSummary;
  /** Every persona against `none` and each neutral persona on the same items. */
  persona_tests: PersonaTests;
}

export interface TopLogprobsSummary {
  /** Cells scored from a complete list / from a partial one (some options absent, set to the list's minimum). */
  complete: number;
  partial: number;
  /** Per option letter: in how many cells it was absent (all four absent: the cell is discarded). */
  absent: Record<string, number>;
}

export function topLogprobsSummary(cells: CellResult[]): TopLogprobsSummary {
  const absent: Record<string, number> = {};
  let complete = 0;
  let partial = 0;
  for (const c of cells) {
    if (c.method === 'top_logprobs') complete++;
    if (c.method !== 'top_logprobs_partial') continue;
    partial++;
    for (const o of c.absent) absent[o] = (absent[o] ?? 0) + 1;
  }
  return { complete, partial, absent };
}

export const RESULTS_COLUMNS = [
  'run', 'persona', 'subject', 'item', 'item_index', 'label', 'prediction', 'correct', 'discarded', 'method',
  'logprob_A', 'logprob_B', 'logprob_C', 'logprob_D', 'absent', 'attempts', 'raw_text', 'prompt_hash', 'backend',
] as const;

/**
 * The expert groups of a run: every persona of the run that is the expert of one of the 57 subjects, classified by
 * its own subject's category, whichever subjects were run (an anatomy expert is a domain expert for clinical
 * knowledge even when only clinical knowledge was asked); plus the configured neutral personas present in the run.
 */
export function runPersonaGroups(spec: Pick<MmluSpec, 'groups'>, present: ReadonlySet<string>): PersonaGroups {
  const experts = new Map(MMLU_SUBJECTS.map((s) => [s, expertPersonaFor(s)] as const).filter(([, p]) => present.has(p)));
  const expertSet = new Set(experts.values());
  return { experts, neutral: spec.groups.neutral.filter((p) => present.has(p) && !expertSet.has(p)) };
}

export function mmluMetrics(spec: MmluSpec, cells: CellResult[]): MmluMetrics {
  const rows = cells.map((c) => ({ persona: c.persona, subject: c.subject, correct: c.correct }));
  const perPersonaSubject = personaSubjectMetrics(rows);
  const present = new Set(cells.map((c) => c.persona));
  const analysis = analyzeExperts(
    perPersonaSubject.map(({ persona, subject, n, correct }) => ({ persona, subject, n, correct })),
    runPersonaGroups(spec, present),
  );
  const invalidBy = new Map<string, number>();
  for (const c of cells) if (c.method === 'generate_fork_invalid') invalidBy.set(c.persona, (invalidBy.get(c.persona) ?? 0) + 1);
  const perPersona = spec.personas.map((persona): PersonaTotal => {
    const mine = perPersonaSubject.filter((m) => m.persona === persona);
    const n = mine.reduce((a, m) => a + m.n, 0);
    const correct = mine.reduce((a, m) => a + m.correct, 0);
    const invalid = invalidBy.get(persona) ?? 0;
    return { persona, n, correct, accuracy: n ? correct / n : null, ci95: wilsonCi95(correct, n), discarded: mine.reduce((a, m) => a + m.discarded, 0), invalid };
  });
  return {
    run: spec.run,
    task: 'mmlu',
    model: modelLabel(spec),
    ...(spec.modelWarning ? { model_warning: spec.modelWarning } : {}),
    template: spec.template.name,
    format: spec.format,
    scoring: spec.scoring.mode,
    split: spec.data.split,
    subjects: spec.data.subjects,
    personas: spec.personas,
    cells: cells.length,
    discarded: cells.filter((c) => c.discarded).length,
    per_persona: perPersona,
    per_persona_subject: perPersonaSubject,
    expert_analysis: analysis,
    top_logprobs: topLogprobsSummary(cells),
    persona_tests: comparePersonas(
      cells.map((c) => ({ persona: c.persona, question: c.item, sample: c.sample, correct: c.correct })),
      spec.personas,
      ['none', ...spec.groups.neutral],
    ),
  };
}

export function resultsCsv(cells: CellResult[]): string {
  const records = cells.map((c) => [
    c.run, c.persona, c.subject, c.item, c.itemIndex, OPTION_LETTERS[c.label], c.prediction === null ? '' : OPTION_LETTERS[c.prediction],
    c.correct === null ? '' : c.correct ? 1 : 0, c.discarded ? 1 : 0, c.method,
    ...[0, 1, 2, 3].map((i) => (c.logprobs ? c.logprobs[i] : '')),
    c.absent.join(' '), c.attempts, c.rawText ?? '', c.promptHash, c.backend,
  ]);
  return stringify(records, { header: true, columns: [...RESULTS_COLUMNS] });
}

/** Write atomically (tmp + rename) so a reader never sees half a file. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function writeMmluReport(outDir: string, cells: CellResult[], metrics: MmluMetrics): { resultsCsv: string; metricsJson: string } {
  mkdirSync(outDir, { recursive: true });
  const files = { resultsCsv: join(outDir, 'results.csv'), metricsJson: join(outDir, 'metrics.json') };
  writeFileAtomic(files.resultsCsv, resultsCsv(cells));
  writeFileAtomic(files.metricsJson, JSON.stringify(metrics, null, 2) + '\n');
  return files;
}
