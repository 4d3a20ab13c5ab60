/**
 * `report.html` and `provenance.json` of a run: written at the end of every run (the reduce activity) and by
 * `rolyplay report <run>`. Reads the run's metrics.json (the task's reduce writes it first) and its provenance;
 * the page is one self-contained file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec } from '../experiment/load.js';
import type { ResultStore } from '../store/results.js';
import { writeFileAtomic } from '../tasks/mmlu/report.js';
import { taskFor } from '../experiment/tasks.js';
import { InputError } from '../experiment/errors.js';
import type { Figure } from './charts.js';
import { page, provenanceSection } from './html.js';
import { writeProvenance, type Provenance } from './provenance.js';

export const RANDOM_WEIGHTS_WARNING =
  'This model has random weights (a test model): every accuracy, regret and coefficient in this run is noise. Point model.path at a real model for real numbers.';

export function readMetrics(outDir: string): unknown {
  const file = join(outDir, 'metrics.json');
  if (!existsSync(file)) throw new InputError('run', `${file} does not exist`, 'reduce the run first: `rolyplay results <run>` (or let `rolyplay run` finish)');
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

export async function renderReport(spec: ExperimentSpec, metrics: unknown, provenance: Provenance, totalCells?: number): Promise<{ html: string; figures: Figure[] }> {
  const task = taskFor(spec);
  const body = task.page
    ? await task.page(spec, metrics, { ...(totalCells !== undefined ? { totalCells } : {}), modelLabel: provenance.model.label })
    : { subtitle: `${spec.task} · ${provenance.model.label}`, warnings: [], sections: [], figures: [] };
  const warnings = [...(provenance.model.random_weights ? [RANDOM_WEIGHTS_WARNING] : []), ...body.warnings];
  const html = page({ title: `RolyPlaying report: ${spec.run}`, subtitle: body.subtitle, warnings, sections: [...body.sections, provenanceSection(provenance)] });
  return { html, figures: body.figures };
}

/** Write provenance.json and report.html into `outDir` (the run folder, or its preview/); returns their paths. */
export async function writeRunReport(spec: ExperimentSpec, store: ResultStore, outDir: string, totalCells?: number): Promise<{ reportHtml: string; provenanceJson: string }> {
  const { file: provenanceJson, provenance } = await writeProvenance(spec, await store.runTimes(spec.run, spec.task), outDir);
  // A task without a page may write no metrics.json: its page then holds the provenance only.
  const metrics = taskFor(spec).page ? readMetrics(outDir) : undefined;
  const { html } = await renderReport(spec, metrics, provenance, totalCells);
  const reportHtml = join(outDir, 'report.html');
  writeFileAtomic(reportHtml, html);
  return { reportHtml, provenanceJson };
}

/**
 * The end-of-run hook: as writeRunReport, but a failure to write the report never fails the run's reduce (which
 * would retry forever on a deterministic error); it comes back as `reportError`, which the CLI prints.
 */
export async function writeRunReportOrError(spec: ExperimentSpec, store: ResultStore, outDir: string, totalCells?: number): Promise<Record<string, string>> {
  try {
    return await writeRunReport(spec, store, outDir, totalCells);
  } catch (err) {
    return { reportError: `report.html not written: ${(err as Error).message} (retry with \`rolyplay report ${spec.run}\`)` };
  }
}
