/** The MMLU sections of a report: figures and tables from a run's metrics.json (no store access). */
import type { MmluMetrics } from '../tasks/mmlu/report.js';
import type { CategorySummary } from '../tasks/mmlu/analysis.js';
import { RANDOM_BASELINE } from '../tasks/mmlu/analysis.js';
import { expertPersonaFor, MMLU_SUBJECTS } from '../tasks/mmlu/categories.js';
import { figure, type Figure } from './charts.js';
import { ci, esc, num, pval, table, type Section } from './html.js';

const GROUP_ORDER = ['task expert', 'other expert', 'neutral', 'no persona', 'other'] as const;
type PersonaGroup = (typeof GROUP_ORDER)[number];
const GROUP_COLORS = ['#d62728', '#ff7f0e', '#2ca02c', '#1f77b4', '#7f7f7f'];

const EXPERTS = new Set(MMLU_SUBJECTS.map(expertPersonaFor));

export function personaGroup(m: Pick<MmluMetrics, 'subjects'> & { expert_analysis: MmluMetrics['expert_analysis'] }, neutral: ReadonlySet<string>, persona: string): PersonaGroup {
  if (persona === 'none') return 'no persona';
  if (neutral.has(persona)) return 'neutral';
  if (m.subjects.some((s) => expertPersonaFor(s) === persona)) return 'task expert';
  if (EXPERTS.has(persona)) return 'other expert';
  return 'other';
}

const ANALYSIS_GROUPS = [
  ['task_expert', 'task expert'],
  ['domain_experts', 'domain experts'],
  ['non_domain_experts', 'non-domain experts'],
  ['neutral', 'neutral'],
] as const;

/** One line for the console and the report: the expert analysis over all subjects of the run. */
export function expertHeadline(m: MmluMetrics): string {
  const all = m.expert_analysis.categories.find((c) => c.category === 'all')!;
  const parts = ANALYSIS_GROUPS.map(([key, label]) => `${label} ${num(all[key].mean)}${all[key].ci95 ? ` ${ci(all[key].ci95)}` : ''}`);
  return `expert analysis over ${all.n_subjects} subject${all.n_subjects === 1 ? '' : 's'}: ${parts.join(', ')}, random ${RANDOM_BASELINE}`;
}

export async function mmluSections(m: MmluMetrics, neutralPersonas: readonly string[]): Promise<{ figures: Figure[]; sections: Section[] }> {
  const neutral = new Set(neutralPersonas);
  const group = (p: string) => personaGroup(m, neutral, p);
  const color = { scale: { domain: [...GROUP_ORDER], range: GROUP_COLORS }, title: 'persona' };

  // ---- per-persona accuracy with Wilson CIs ----
  const accRows = m.per_persona
    .filter((p) => p.accuracy !== null)
    .map((p) => ({ persona: p.persona, accuracy: p.accuracy, lo: p.ci95![0], hi: p.ci95![1], group: group(p.persona), n: p.n }));
  const personaAxis = { field: 'persona', type: 'nominal', sort: { field: 'accuracy', order: 'descending' }, title: null, axis: { labelLimit: 320 } } as const;
  const accuracy = await figure(
    'persona-accuracy',
    'Accuracy per persona',
    `Accuracy over all scored items of the run, with Wilson 95 % intervals; the dashed line is chance (${RANDOM_BASELINE}).`,
    {
      width: 420,
      height: Math.max(120, 13 * accRows.length),
      data: { values: accRows },
      layer: [
        { name: 'acc_ci', mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: personaAxis, x: { field: 'lo', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } }, x2: { field: 'hi' }, color: { field: 'group', ...color } } },
        { name: 'acc', mark: { type: 'point', filled: true, size: 40 }, encoding: { y: personaAxis, x: { field: 'accuracy', type: 'quantitative' }, color: { field: 'group', ...color }, tooltip: [{ field: 'persona' }, { field: 'accuracy', format: '.3f' }, { field: 'n' }] } },
        { name: 'chance', data: { values: [{ x: RANDOM_BASELINE }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      ],
    },
    { acc: accRows.length, acc_ci: accRows.length, chance: 1 },
  );

  // ---- persona × subject heat map ----
  const cells = m.per_persona_subject.filter((c) => c.accuracy !== null).map((c) => ({ persona: c.persona, subject: c.subject, accuracy: c.accuracy, n: c.n }));
  const heatmap = await figure(
    'persona-subject-heatmap',
    'Accuracy per persona and subject',
    'Each cell is one persona on one subject (scored items only).',
    {
      width: Math.max(120, 22 * m.subjects.length),
      height: Math.max(120, 11 * m.personas.length),
      data: { values: cells },
      layer: [
        {
          name: 'cell',
          mark: 'rect',
          encoding: {
            x: { field: 'subject', type: 'nominal', title: null, axis: { labelAngle: -45, labelLimit: 320 } },
            y: { field: 'persona', type: 'nominal', title: null, sort: m.personas, axis: { labelLimit: 320 } },
            color: { field: 'accuracy', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1] } },
            tooltip: [{ field: 'persona' }, { field: 'subject' }, { field: 'accuracy', format: '.3f' }, { field: 'n' }],
          },
        },
      ],
    },
    { cell: cells.length },
  );

  // ---- the paper's expert analysis per category ----
  const cats = m.expert_analysis.categories.filter((c) => c.n_subjects > 0);
  const exRows = cats.flatMap((c: CategorySummary) =>
    ANALYSIS_GROUPS.filter(([key]) => c[key].mean !== null).map(([key, label]) => ({
      category: c.category,
      group: label,
      mean: c[key].mean,
      lo: c[key].ci95?.[0] ?? null,
      hi: c[key].ci95?.[1] ?? null,
      subjects: c[key].n_subjects,
    })),
  );
  const exColor = { field: 'group', type: 'nominal', scale: { domain: ANALYSIS_GROUPS.map(([, l]) => l), range: ['#d62728', '#ff7f0e', '#9467bd', '#2ca02c'] }, title: null } as const;
  const xCat = { field: 'category', type: 'nominal', title: null, sort: cats.map((c) => c.category), axis: { labelAngle: 0, labelLimit: 220 } } as const;
  const expert = await figure(
    'expert-analysis',
    'Expert analysis per MMLU category',
    'Per category, the mean over its subjects of the task expert, the mean of the domain experts (experts of the same category\'s other subjects), of the non-domain experts and of the neutral personas, with Student-t 95 % intervals over subjects (none with one subject; drawn clipped to [0, 1], the table gives them whole). The dashed line is random (25 %).',
    {
      width: Math.max(200, 170 * cats.length),
      height: 240,
      data: { values: exRows },
      layer: [
        { name: 'group_ci', transform: [{ filter: 'datum.lo != null' }], mark: { type: 'rule', strokeWidth: 2 }, encoding: { x: xCat, xOffset: { field: 'group', sort: ANALYSIS_GROUPS.map(([, l]) => l) }, y: { field: 'lo', type: 'quantitative', title: 'mean accuracy over subjects', scale: { domain: [0, 1], clamp: true } }, y2: { field: 'hi' }, color: exColor } },
        { name: 'group_mean', mark: { type: 'point', filled: true, size: 60 }, encoding: { x: xCat, xOffset: { field: 'group', sort: ANALYSIS_GROUPS.map(([, l]) => l) }, y: { field: 'mean', type: 'quantitative' }, color: exColor, tooltip: [{ field: 'category' }, { field: 'group' }, { field: 'mean', format: '.3f' }, { field: 'subjects' }] } },
        { name: 'random', data: { values: [{ y: RANDOM_BASELINE }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      ],
    },
    { group_mean: exRows.length, group_ci: exRows.filter((r) => r.lo !== null).length, random: 1 },
  );

  // ---- every persona against no persona, paired ----
  const vsNone = m.persona_tests.comparisons.filter((c) => c.control === 'none' && c.diff !== null);
  const dRows = vsNone.map((c) => ({
    persona: c.persona,
    diff: c.diff,
    lo: c.ci95?.[0] ?? null,
    hi: c.ci95?.[1] ?? null,
    significance: c.p_holm < 0.05 ? 'Holm p < 0.05' : 'not significant',
    p_holm: c.p_holm,
  }));
  const figures = [accuracy, heatmap, expert];
  if (dRows.length > 0) {
    const yP = { field: 'persona', type: 'nominal', sort: { field: 'diff', order: 'descending' }, title: null, axis: { labelLimit: 320 } } as const;
    const sig = { field: 'significance', type: 'nominal', scale: { domain: ['Holm p < 0.05', 'not significant'], range: ['#d62728', '#888'] }, title: null } as const;
    figures.push(
      await figure(
        'persona-vs-none',
        'Each persona minus no persona, on the same questions',
        `Accuracy difference with a paired bootstrap 95 % interval (${m.persona_tests.resamples} resamples of questions, seed ${m.persona_tests.seed}); red: exact McNemar p < 0.05 after Holm adjustment over the ${dRows.length} comparisons.`,
        {
          width: 420,
          height: Math.max(120, 13 * dRows.length),
          data: { values: dRows },
          layer: [
            { name: 'diff_ci', transform: [{ filter: 'datum.lo != null' }], mark: 'rule', encoding: { y: yP, x: { field: 'lo', type: 'quantitative', title: 'accuracy − accuracy of none' }, x2: { field: 'hi' }, color: sig } },
            { name: 'diff', mark: { type: 'point', filled: true, size: 40 }, encoding: { y: yP, x: { field: 'diff', type: 'quantitative' }, color: sig, tooltip: [{ field: 'persona' }, { field: 'diff', format: '+.3f' }, { field: 'p_holm', format: '.3g' }] } },
            { name: 'zero', data: { values: [{ x: 0 }] }, mark: { type: 'rule', color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
          ],
        },
        { diff: dRows.length, diff_ci: dRows.filter((r) => r.lo !== null).length, zero: 1 },
      ),
    );
  }

  // ---- tables ----
  const vs = new Map(vsNone.map((c) => [c.persona, c]));
  const personaTable = table(
    ['persona', 'group', 'n', 'correct', 'accuracy', '95 % CI (Wilson)', 'Δ vs none', 'paired 95 % CI', 'McNemar p', 'Holm p', 'BH p', 'discarded'],
    [...m.per_persona]
      .sort((a, b) => (b.accuracy ?? -1) - (a.accuracy ?? -1))
      .map((p) => {
        const c = vs.get(p.persona);
        return [p.persona, group(p.persona), p.n, p.correct, num(p.accuracy), ci(p.ci95), c ? num(c.diff, true) : '', c ? ci(c.ci95) : '', c ? pval(c.p_mcnemar) : '', c ? pval(c.p_holm) : '', c ? pval(c.p_bh) : '', p.discarded];
      }),
  );
  const controls = m.persona_tests.controls.filter((c) => c !== 'none');
  const neutralTables = controls.map((control) => {
    const rows = m.persona_tests.comparisons.filter((c) => c.control === control && c.diff !== null).sort((a, b) => (b.diff ?? 0) - (a.diff ?? 0));
    return `<details><summary>Each persona against the neutral persona <b>${esc(control)}</b> (${rows.length} comparisons)</summary>${table(
      ['persona', 'n', 'Δ', 'paired 95 % CI', 'McNemar p', 'Holm p', 'BH p'],
      rows.map((c) => [c.persona, c.n, num(c.diff, true), ci(c.ci95), pval(c.p_mcnemar), pval(c.p_holm), pval(c.p_bh)]),
    )}</details>`;
  });
  const expertTable = table(
    ['category', 'subjects', ...ANALYSIS_GROUPS.map(([, l]) => l), 'random'],
    m.expert_analysis.categories.map((c) => [c.category, c.n_subjects, ...ANALYSIS_GROUPS.map(([k]) => `${num(c[k].mean)} ${c[k].ci95 ? ci(c[k].ci95) : ''}`), c.random]),
  );
  const subjectTable = table(
    ['subject', 'category', 'task expert', 'domain experts (n)', 'non-domain experts (n)', 'neutral (n)'],
    m.expert_analysis.subjects.map((s) => [
      s.subject, s.category, s.task_expert ? `${num(s.task_expert.accuracy)} ${ci(s.task_expert.ci95)}` : '–',
      `${num(s.domain_experts.accuracy)} (${s.domain_experts.n_personas})`, `${num(s.non_domain_experts.accuracy)} (${s.non_domain_experts.n_personas})`, `${num(s.neutral.accuracy)} (${s.neutral.n_personas})`,
    ]),
  );
  const sections: Section[] = [
    { id: 'headline', title: 'Headline', html: `<p class="headline">${esc(expertHeadline(m))}</p>` },
    { id: 'personas', title: 'Personas', html: `${figureHtml(accuracy)}${figures.find((f) => f.id === 'persona-vs-none') ? figureHtml(figures.find((f) => f.id === 'persona-vs-none')!) : ''}<p>${esc(m.persona_tests.method)}.</p>${personaTable}${neutralTables.join('')}` },
    { id: 'subjects', title: 'Personas × subjects', html: figureHtml(heatmap) },
    { id: 'expert-analysis', title: 'The paper\'s expert analysis', html: `${figureHtml(expert)}${expertTable}<details><summary>Per subject</summary>${subjectTable}</details>` },
  ];
  return { figures, sections };
}

export function figureHtml(f: Figure): string {
  return `<figure id="fig-${esc(f.id)}" data-figure="${esc(f.id)}" data-marks="${esc(JSON.stringify(f.marks))}"><figcaption><b>${esc(f.title)}.</b> ${esc(f.caption)}</figcaption>${f.svg}</figure>`;
}
