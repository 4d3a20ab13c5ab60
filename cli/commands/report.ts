/** `rolyplay report <run>`: re-reduce a run from its store and write its report.html and provenance.json. */
import { join } from 'node:path';
import type { ExperimentSpec } from '../../experiment/load.js';
import { taskFor } from '../../tasks/registry.js';
import { writeRunReport } from '../../report/index.js';
import { loadRun, storedCells } from './results.js';

export async function reportCommand(run: string, opts: { output: string }): Promise<void> {
  const { dir, store, rec } = loadRun(run, opts.output);
  const spec = rec.spec as ExperimentSpec;
  // As `results`: a finished run's files are rewritten in place, an unfinished one's go to preview/ beside them.
  const complete = storedCells(store, rec) >= rec.totalCells;
  const outDir = complete ? dir : join(dir, 'preview');
  taskFor(spec).report({ ...spec, outDir }, store);
  const { reportHtml } = await writeRunReport({ ...spec, outDir }, store, rec.totalCells);
  process.stdout.write(`${reportHtml}\n`);
  if (!complete) process.stderr.write(`the run is not finished (${storedCells(store, rec)} of ${rec.totalCells}): this is a preview\n`);
}
