/** MMLU as an engine task: batches are questions of one subject × all personas. */
import { MmluConfig, resolveMmlu, type MmluSpec } from './config.js';
import type { PlannedBatch, TaskDefinition } from '../types.js';
import { loadSubject } from './data.js';
import { runMmluBatch } from './runner.js';
import { mmluMetrics, writeMmluReport } from './report.js';
import { collect } from '../../store/results.js';

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

/** "[lo, hi]" with 3 decimals, or null (shown as "-"). */
export function ciText(ci: readonly [number, number] | null | undefined): string | null {
  return ci ? `[${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]` : null;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
