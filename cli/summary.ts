/** The end-of-run console summary: CIs, the headline, a warning for a random-weight model, where the report is. */
import type { ExperimentSpec } from '../experiment/load.js';
import { RANDOM_WEIGHTS_WARNING, readMetrics } from '../report/index.js';
import { hasRandomWeights } from '../report/provenance.js';
import { taskFor } from '../experiment/tasks.js';

/** Lines to print after the table; reads the run's metrics.json. Never throws: a summary must not fail a run. */
export function runSummary(spec: ExperimentSpec, outDir: string, files: Record<string, string>): string[] {
  const lines: string[] = [];
  try {
    lines.push(...(taskFor(spec).consoleSummary?.(readMetrics(outDir)) ?? []));
  } catch (err) {
    lines.push(`(no summary: ${(err as Error).message})`);
  }
  if (hasRandomWeights(spec)) lines.push(`WARNING: ${RANDOM_WEIGHTS_WARNING}`);
  if (files.reportHtml) lines.push(`report: ${files.reportHtml}`);
  return lines;
}
