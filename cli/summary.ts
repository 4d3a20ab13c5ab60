/** The end-of-run console summary: CIs, the headline, a warning for a random-weight model, where the report is. */
import type { ExperimentSpec } from '../experiment/load.js';
import type { BanditMetrics } from '../tasks/bandit/report.js';
import type { MmluMetrics } from '../tasks/mmlu/report.js';
import { RANDOM_WEIGHTS_WARNING, readMetrics } from '../report/index.js';
import { hasRandomWeights } from '../report/provenance.js';
import { expertHeadline } from '../report/mmlu.js';
import { banditHeadline } from '../report/bandit.js';
import { ci, num } from '../report/html.js';

/** Lines to print after the table; reads the run's metrics.json. Never throws: a summary must not fail a run. */
export function runSummary(spec: ExperimentSpec, outDir: string, files: Record<string, string>): string[] {
  const lines: string[] = [];
  try {
    const m = readMetrics(outDir) as MmluMetrics | BanditMetrics;
    if (m.task === 'mmlu') {
      const ranked = m.per_persona.filter((p) => p.accuracy !== null).sort((a, b) => b.accuracy! - a.accuracy!);
      const show = (p: (typeof ranked)[number]) => `${p.persona} ${num(p.accuracy)} ${ci(p.ci95)}`;
      if (ranked.length) lines.push(`best: ${ranked.slice(0, 3).map(show).join('; ')}`, `worst: ${ranked.slice(-3).reverse().map(show).join('; ')}`);
      const none = m.per_persona.find((p) => p.persona === 'none');
      if (none) lines.push(`no persona: ${show(none as (typeof ranked)[number])}`);
      const sig = m.persona_tests.comparisons.filter((c) => c.control === 'none' && c.p_holm < 0.05).length;
      lines.push(expertHeadline(m), `personas that differ from no persona (exact McNemar, Holm p < 0.05): ${sig}`);
    } else {
      lines.push(banditHeadline(m));
    }
  } catch (err) {
    lines.push(`(no summary: ${(err as Error).message})`);
  }
  if (hasRandomWeights(spec)) lines.push(`WARNING: ${RANDOM_WEIGHTS_WARNING}`);
  if (files.reportHtml) lines.push(`report: ${files.reportHtml}`);
  return lines;
}
