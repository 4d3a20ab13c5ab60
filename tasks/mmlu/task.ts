/** MMLU as an engine task: batches are questions of one subject × all personas. */
import { MmluConfig, resolveMmlu, type MmluSpec } from './config.js';
import type { PlannedBatch, TaskDefinition } from '../types.js';
import { loadSubject } from './data.js';
import { runMmluBatch } from './runner.js';
import { mmluMetrics, writeMmluReport, type MmluMetrics } from './report.js';
import { expertHeadline, mmluSections } from '../../report/mmlu.js';
import { ci, num } from '../../report/html.js';
import { collect, type ResultStore } from '../../store/results.js';
import { compareMmluRuns } from '../../report/compare.js';

export const mmluTask: TaskDefinition<MmluSpec> = {
  name: 'mmlu',
  config: MmluConfig,
  resolve: resolveMmlu,
  stages: [{ name: 'score', plan, runBatch: runMmluBatch }],
  resultFiles: { csv: 'resultsCsv', json: 'metricsJson' },

  async report(spec, store, outDir) {
    const cells = await collect(store.streamCells(spec.run));
    const metrics = mmluMetrics(spec, cells);
    return {
      cells: cells.length,
      discarded: metrics.discarded,
      files: outDir === null ? {} : writeMmluReport(outDir, cells, metrics),
      personas: metrics.per_persona.map(({ persona, n, correct, accuracy, discarded }) => ({ persona, n, correct, accuracy, discarded })),
      table: {
        columns: ['persona', 'n', 'correct', 'accuracy', '95% CI', 'discarded'],
        rows: metrics.per_persona.map((p) => [p.persona, p.n, p.correct, p.accuracy === null ? null : round(p.accuracy, 3), ciText(p.ci95), p.discarded]),
      },
    };
  },

  stored(spec, store) {
    return store.countCells(spec.run, 'mmlu');
  },

  summary(spec) {
    return `mmlu · ${spec.run} · ${spec.personas.length} personas × ${spec.data.subjects.length} subjects`;
  },

  async page(spec, metrics, { totalCells }) {
    const m = metrics as MmluMetrics;
    const warnings: string[] = [];
    if (totalCells !== undefined && m.cells < totalCells) warnings.push(`The run is not finished: ${m.cells} of ${totalCells} cells are scored.`);
    if (m.discarded > 0) warnings.push(`${m.discarded} answer${m.discarded === 1 ? ' was' : 's were'} discarded (no valid letter after the retries); accuracies are over the scored items.`);
    const body = await mmluSections(m, spec.groups.neutral);
    const subtitle = `MMLU · ${m.model} · ${m.personas.length} personas × ${m.subjects.length} subjects (${m.split}) · ${m.cells} cells · template ${m.template}, format ${m.format}, scoring ${m.scoring}`;
    return { subtitle, warnings, ...body };
  },

  async compare(a, b) {
    const items = async (x: { run: string; store: ResultStore }) => (await collect(x.store.streamCells(x.run))).map((c) => ({ persona: c.persona, item: c.item, sample: c.sample, correct: c.correct }));
    return compareMmluRuns(await items(a), await items(b));
  },
  consoleSummary(metrics) {
    const m = metrics as MmluMetrics;
    const lines: string[] = [];
    const ranked = m.per_persona.filter((p) => p.accuracy !== null).sort((a, b) => b.accuracy! - a.accuracy!);
    const show = (p: (typeof ranked)[number]) => `${p.persona} ${num(p.accuracy)} ${ci(p.ci95)}`;
    if (ranked.length) lines.push(`best: ${ranked.slice(0, 3).map(show).join('; ')}`, `worst: ${ranked.slice(-3).reverse().map(show).join('; ')}`);
    const none = m.per_persona.find((p) => p.persona === 'none');
    if (none) lines.push(`no persona: ${show(none as (typeof ranked)[number])}`);
    const sig = m.persona_tests.comparisons.filter((c) => c.control === 'none' && c.p_holm < 0.05).length;
    lines.push(expertHeadline(m), `personas that differ from no persona (exact McNemar, Holm p < 0.05): ${sig}`);
    return lines;
  },

  details(spec) {
    return [
      `**Task** mmlu (${spec.data.split}, ${spec.data.subjects.length} subjects${spec.data.limit ? `, first ${spec.data.limit} questions each` : ''})`,
      `**Template** ${spec.template.name} · **format** ${spec.format} · **scoring** ${spec.scoring.mode}`,
    ];
  },
};

/** A batch: some questions of one subject × all personas. */
function plan(spec: MmluSpec): PlannedBatch[] {
  const batches: PlannedBatch[] = [];
  for (const subject of spec.data.subjects) {
    const n = Math.min(loadSubject(spec.data.path, subject, spec.data.split).length, spec.data.limit ?? Infinity);
    for (let start = 0; start < n; start += spec.execution.unitsPerBatch) {
      const end = Math.min(n, start + spec.execution.unitsPerBatch);
      batches.push({ group: subject, start, end, cells: (end - start) * spec.personas.length });
    }
  }
  return batches;
}

import { ciText, round } from '../numbers.js';
export { ciText, round };
