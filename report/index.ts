/**
 * `report.html` and `provenance.json` of a run: written at the end of every run (the reduce activity) and by
 * `rolyplay report <run>`. Reads the run's metrics.json (the task's reduce writes it first) and its provenance;
 * the page is one self-contained file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec } from '../experiment/load.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import type { ResultStore } from '../store/results.js';
import type { MmluMetrics } from '../tasks/mmlu/report.js';
import type { BanditMetrics } from '../tasks/bandit/report.js';
import { writeFileAtomic } from '../tasks/mmlu/report.js';
import { InputError } from '../experiment/errors.js';
import { banditSections } from './bandit.js';
import type { Figure } from './charts.js';
import { runTimes } from './data.js';
import { page, provenanceSection, type Section } from './html.js';
import { mmluSections } from './mmlu.js';
import { writeProvenance, type Provenance } from './provenance.js';

export const RANDOM_WEIGHTS_WARNING =
  'This model has random weights (a test model): every accuracy, regret and coefficient in this run is noise. Point model.path at a real model for real numbers.';

export function readMetrics(outDir: string): MmluMetrics | BanditMetrics {
  const file = join(outDir, 'metrics.json');
  if (!existsSync(file)) throw new InputError('run', `${file} does not exist`, 'reduce the run first: `rolyplay results <run>` (or let `rolyplay run` finish)');
  return JSON.parse(readFileSync(file, 'utf8')) as MmluMetrics | BanditMetrics;
}

export async function renderReport(spec: ExperimentSpec, metrics: MmluMetrics | BanditMetrics, provenance: Provenance, totalCells?: number): Promise<{ html: string; figures: Figure[] }> {
  const warnings: string[] = [];
  if (provenance.model.random_weights) warnings.push(RANDOM_WEIGHTS_WARNING);
  let body: { figures: Figure[]; sections: Section[] };
  let subtitle: string;
  if (metrics.task === 'mmlu') {
    const m = metrics;
    if (totalCells !== undefined && m.cells < totalCells) warnings.push(`The run is not finished: ${m.cells} of ${totalCells} cells are scored.`);
    if (m.discarded > 0) warnings.push(`${m.discarded} answer${m.discarded === 1 ? ' was' : 's were'} discarded (no valid letter after the retries); accuracies are over the scored items.`);
    body = await mmluSections(m, spec.task === 'mmlu' ? (spec as MmluSpec).groups.neutral : []);
    subtitle = `MMLU · ${m.model} · ${m.personas.length} personas × ${m.subjects.length} subjects (${m.split}) · ${m.cells} cells · template ${m.template}, format ${m.format}, scoring ${m.scoring}`;
  } else {
    const m = metrics;
    const games = m.personas.reduce((s, p) => s + p.games + p.abandoned, 0);
    if (totalCells !== undefined && games < totalCells) warnings.push(`The run is not finished: ${games} of ${totalCells} games are stored.`);
    body = await banditSections(m);
    subtitle = `two-armed bandit · ${provenance.model.label} · ${m.personas.length} personas × ${m.games_per_persona} games × ${m.trials} trials · format ${m.format}, scoring ${m.scoring}`;
  }
  const html = page({ title: `RolyPlaying report: ${spec.run}`, subtitle, warnings, sections: [...body.sections, provenanceSection(provenance)] });
  return { html, figures: body.figures };
}

/** Write provenance.json and report.html into `outDir` (the run folder, or its preview/); returns their paths. */
export async function writeRunReport(spec: ExperimentSpec, store: ResultStore, outDir: string, totalCells?: number): Promise<{ reportHtml: string; provenanceJson: string }> {
  const { file: provenanceJson, provenance } = await writeProvenance(spec, runTimes(store, spec.run, spec.task), outDir);
  const { html } = await renderReport(spec, readMetrics(outDir), provenance, totalCells);
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
