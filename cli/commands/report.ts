/** `rolyplay report <run>`: re-reduce a run from its store and write its report.html and provenance.json. */
import { join } from 'node:path';
import { taskFor } from '../../experiment/tasks.js';
import { writeRunReport } from '../../report/index.js';
import { withRun } from './results.js';

export async function reportCommand(run: string, opts: { output: string }): Promise<void> {
  await withRun(run, opts.output, async ({ dir, store, rec, spec }) => {
    // As `results`: a finished run's files are rewritten in place, an unfinished one's go to preview/ beside them.
    const stored = (await taskFor(spec).stored(spec, store)).cells;
    const complete = stored >= rec.totalCells;
    const outDir = complete ? dir : join(dir, 'preview');
    await taskFor(spec).report(spec, store, outDir);
    const { reportHtml } = await writeRunReport(spec, store, outDir, rec.totalCells);
    process.stdout.write(`${reportHtml}\n`);
    if (!complete) process.stderr.write(`the run is not finished (${stored} of ${rec.totalCells}): this is a preview\n`);
  });
}
