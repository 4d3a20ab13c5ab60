/** The report page, its provenance and the run comparison, rendered in Node from synthetic runs (no browser). */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT, type ExperimentSpec } from '../experiment/load.js';
import { mmluMetrics } from '../tasks/mmlu/report.js';
import { collectProvenance, hasRandomWeights } from '../report/provenance.js';
import { renderReport, RANDOM_WEIGHTS_WARNING, writeRunReportOrError } from '../report/index.js';
import { SqliteStore } from '../store/results.js';
import { tmpDir } from './support/harness.js';
import { compareBanditRuns, compareMmluRuns } from '../report/compare.js';
import { fakeCell, fakeSpec } from './support/mmluFakes.js';

/** Data marks drawn by the layer `name` of the figure `id` in an SVG string: the leaf paths of its group. */
export function marksIn(html: string, id: string, name: string): number {
  const fig = html.slice(html.indexOf(`data-figure="${id}"`));
  const svg = fig.slice(0, fig.indexOf('</figure>'));
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>(.*?)</g>`, 'g'))];
  return groups.reduce((s, g) => s + (g[1]!.match(/<(path|line|rect)\b/g)?.length ?? 0), 0);
}

const TINY = join(PACKAGE_ROOT, 'models', 'tiny-random-llama');

describe('MMLU report page', () => {
  const personas = ['abstract algebra expert', 'anatomy expert', 'college physics expert', 'teacher', 'none'];
  const subjects = ['abstract_algebra', 'anatomy'];
  const cells = personas.flatMap((p, k) => subjects.flatMap((s) => Array.from({ length: 6 }, (_, i) => fakeCell(p, s, i, (i + k) % 3 !== 0))));
  const spec = { ...fakeSpec(personas, subjects, ['teacher']), model: { backend: 'onnx', path: TINY, variant: 'fp32' } } as unknown as ExperimentSpec;
  const metrics = mmluMetrics(spec as never, cells);

  it('has every figure with one mark per persona, cell and group, and no external reference', async () => {
    const prov = await collectProvenance(spec, { started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:01:30.000Z' });
    const { html, figures } = await renderReport(spec, metrics, prov);
    expect(figures.map((f) => f.id)).toEqual(['persona-accuracy', 'persona-subject-heatmap', 'expert-analysis', 'persona-vs-none']);
    expect(marksIn(html, 'persona-accuracy', 'acc')).toBe(5);
    expect(marksIn(html, 'persona-accuracy', 'acc_ci')).toBe(5);
    expect(marksIn(html, 'persona-subject-heatmap', 'cell')).toBe(10);
    // STEM (abstract algebra: college physics is its domain expert), other (anatomy: no domain expert in the run)
    // and all; each with task expert, domain, non-domain and neutral where they exist: 4 + 3 + 4.
    expect(marksIn(html, 'expert-analysis', 'group_mean')).toBe(11);
    // Intervals need two subjects: only "all" has them, and its domain experts have a value on one subject only.
    expect(marksIn(html, 'expert-analysis', 'group_ci')).toBe(3);
    expect(marksIn(html, 'persona-vs-none', 'diff')).toBe(4);
    for (const f of figures) for (const [name, n] of Object.entries(f.marks)) expect(marksIn(html, f.id, name), `${f.id}/${name}`).toBe(n);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(RANDOM_WEIGHTS_WARNING);
    expect(html).toContain('90.0 s');
  });

  it('says when the run is not finished and when answers were discarded', async () => {
    const prov = await collectProvenance(spec, { started: null, finished: null });
    const partial = mmluMetrics(spec as never, [...cells.slice(1), { ...cells[0]!, correct: null, discarded: true, prediction: null }]);
    const { html } = await renderReport(spec, partial, prov, cells.length + 10);
    expect(html).toContain(`The run is not finished: ${cells.length} of ${cells.length + 10} cells are scored.`);
    expect(html).toContain('1 answer was discarded');
    expect((await renderReport(spec, metrics, prov, cells.length)).html).not.toContain('not finished');
  });

  it('warns about random weights only for a random-weight model', () => {
    expect(hasRandomWeights(spec)).toBe(true);
    expect(hasRandomWeights({ model: { backend: 'onnx', path: '/m/Llama-3.2-1B-Instruct' } } as never)).toBe(false);
    expect(hasRandomWeights({ model: { backend: 'openai', model: 'tiny-random' } } as never)).toBe(false);
  });
});

describe('provenance', () => {
  it('hashes the model files, names the commit and times the run', async () => {
    const spec = { ...fakeSpec(['none'], ['anatomy']), model: { backend: 'onnx', path: TINY, variant: 'fp32' } } as unknown as ExperimentSpec;
    const p = await collectProvenance(spec, { started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:00:02.500Z' });
    expect(p.times.duration_s).toBe(2.5);
    const cfg = p.model.files.find((f) => f.file === 'config.json')!;
    expect(cfg.sha256).toBe(createHash('sha256').update(readFileSync(join(TINY, 'config.json'))).digest('hex'));
    expect(p.model.files.map((f) => f.file)).toContain('onnx/model.onnx_data');
    expect(p.model.random_weights).toBe(true);
    expect(p.effective_config).toBe(spec);
    expect(p.packages.vega).toMatch(/^\d+\.\d+\.\d+/);
    let head: string | null = null;
    try {
      head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).trim();
    } catch {
      /* not a checkout */
    }
    expect(p.git?.commit ?? null).toBe(head);
    // A second collection reuses the hashes of unchanged files.
    const again = await collectProvenance(spec, { started: null, finished: null }, { ...p, model: { ...p.model, files: p.model.files.map((f) => ({ ...f, sha256: 'cached' })) } });
    expect(again.model.files.every((f) => f.sha256 === 'cached')).toBe(true);
    expect(again.times.duration_s).toBeNull();
  });
});

describe('compare two runs', () => {
  const item = (persona: string, q: number, correct: boolean | null) => ({ persona, item: `anatomy/test/${q}`, sample: 0, correct });
  it('MMLU: B − A per persona on the paired questions, McNemar on the discordant ones', () => {
    // poet: A right on q0-q3, B right on q0-q9 (6 discordant, all for B); chef: the same in both; q11 of B discarded.
    const a = [...Array.from({ length: 12 }, (_, q) => item('poet', q, q < 4)), ...Array.from({ length: 12 }, (_, q) => item('chef', q, q % 2 === 0)), item('only-a', 0, true)];
    const b = [...Array.from({ length: 12 }, (_, q) => item('poet', q, q === 11 ? null : q < 10)), ...Array.from({ length: 12 }, (_, q) => item('chef', q, q % 2 === 0))];
    const c = compareMmluRuns(a, b, { resamples: 500 });
    expect(c.only_a).toEqual(['only-a']);
    const poet = c.rows.find((r) => r.persona === 'poet')!;
    expect(poet).toMatchObject({ n: 11, a: 4 / 11, b: 10 / 11 });
    expect(poet.diff).toBeCloseTo(6 / 11, 14);
    expect(poet.p_mcnemar).toBeCloseTo(2 / 64, 14);
    expect(poet.p_holm).toBeCloseTo(Math.min(1, 2 * (2 / 64)), 14);
    expect(poet.ci95![0]).toBeGreaterThan(0);
    expect(c.rows.find((r) => r.persona === 'chef')).toMatchObject({ diff: 0, p_mcnemar: 1, ci95: [0, 0] });
  });

  it('bandit: mean regret B − A over the games both completed', () => {
    const g = (persona: string, game: number, regret: number | null) => ({ persona, game, regret });
    const a = [g('5 year old', 0, 2), g('5 year old', 1, 4), g('5 year old', 2, 6)];
    const b = [g('5 year old', 0, 1), g('5 year old', 1, null), g('5 year old', 2, 3)];
    const [row] = compareBanditRuns(a, b, { resamples: 200 }).rows;
    expect(row).toMatchObject({ n: 2, a: 4, b: 2, diff: -2 });
    expect(row!.ci95![0]).toBeLessThanOrEqual(-2);
    expect(row!.ci95![1]).toBeGreaterThanOrEqual(-2);
  });
});

describe('the end-of-run hook', () => {
  it('returns a failure to write the report as reportError instead of throwing', async () => {
    const dir = tmpDir();
    const store = new SqliteStore(join(dir, 'results.sqlite'));
    // No metrics.json in the folder: the report cannot be written.
    const spec = { ...fakeSpec(['none'], ['anatomy']), outDir: dir } as unknown as ExperimentSpec;
    const files = await writeRunReportOrError(spec, store, dir);
    expect(files.reportError).toContain(join(dir, 'metrics.json'));
    expect(files.reportHtml).toBeUndefined();
  });
});
