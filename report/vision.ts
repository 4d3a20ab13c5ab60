/**
 * The vision-language sections of a report, from a run's metrics.json (`VisionMetrics`, tasks/vision/metrics.ts):
 * accuracy per persona with Wilson and class-bootstrap intervals, the bias contrasts with their intervals and
 * Holm-adjusted p-values, and the fraction of CLIP texts cut at 77 tokens per persona (the seed's truncation bug
 * gives every cut text the same embedding, so this fraction explains much of a verbose persona's accuracy).
 */
import type { VisionMetrics } from '../tasks/vision/metrics.js';
import { figure, type Figure } from './charts.js';
import { ci, esc, num, pval, table, type Section } from './html.js';
import { figureHtml } from './mmlu.js';

const KIND_LABEL = { bias: 'bias pair', vs_none: 'vs none', vs_class_name: 'vs class_name' } as const;
const SIG = { field: 'significance', type: 'nominal', scale: { domain: ['Holm p < 0.05', 'not significant'], range: ['#d62728', '#888'] }, title: null } as const;

export async function visionSections(m: VisionMetrics): Promise<{ figures: Figure[]; sections: Section[] }> {
  const personas = Object.entries(m.personas);
  const chance = 1 / m.n_classes;

  // ---- accuracy per persona ----
  const accRows = personas
    .filter(([, p]) => Number.isFinite(p.accuracy))
    .map(([persona, p]) => ({
      persona,
      accuracy: p.accuracy,
      lo: p.wilson95?.[0] ?? null,
      hi: p.wilson95?.[1] ?? null,
      blo: p.bootstrap95_classes?.[0] ?? null,
      bhi: p.bootstrap95_classes?.[1] ?? null,
      n: p.n,
      baseline: persona === 'none' || persona === 'class_name' ? 'baseline' : 'persona',
    }));
  const yP = { field: 'persona', type: 'nominal', sort: { field: 'accuracy', order: 'descending' }, title: null, axis: { labelLimit: 320 } } as const;
  const color = { field: 'baseline', type: 'nominal', scale: { domain: ['persona', 'baseline'], range: ['#1f77b4', '#2ca02c'] }, title: null } as const;
  const accuracy = await figure(
    'vision-persona-accuracy',
    'Zero-shot accuracy per persona',
    `Micro accuracy over the ${m.n_images} test images (${m.n_classes} classes). Thick rule: Wilson 95 % interval over images; thin rule: 95 % percentile bootstrap over classes (${m.settings.resamples} resamples, seed ${m.settings.seed}). Dashed: chance (1/${m.n_classes}).`,
    {
      width: 420,
      height: Math.max(120, 16 * accRows.length),
      data: { values: accRows },
      layer: [
        { name: 'acc_boot', transform: [{ filter: 'datum.blo != null' }], mark: { type: 'rule', strokeWidth: 1, opacity: 0.6 }, encoding: { y: yP, x: { field: 'blo', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } }, x2: { field: 'bhi' }, color } },
        { name: 'acc_ci', transform: [{ filter: 'datum.lo != null' }], mark: { type: 'rule', strokeWidth: 3 }, encoding: { y: yP, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, color } },
        { name: 'acc', mark: { type: 'point', filled: true, size: 50, color: '#000' }, encoding: { y: yP, x: { field: 'accuracy', type: 'quantitative' }, tooltip: [{ field: 'persona' }, { field: 'accuracy', format: '.3f' }, { field: 'n' }] } },
        { name: 'chance', data: { values: [{ x: chance }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      ],
    },
    { acc: accRows.length, acc_ci: accRows.filter((r) => r.lo !== null).length, acc_boot: accRows.filter((r) => r.blo !== null).length, chance: 1 },
  );

  // ---- contrasts ----
  const cRows = m.contrasts
    .filter((c) => Number.isFinite(c.diff))
    .map((c) => ({
      contrast: `${c.a} − ${c.b}`,
      kind: KIND_LABEL[c.kind],
      diff: c.diff,
      lo: c.ci95_classes?.[0] ?? null,
      hi: c.ci95_classes?.[1] ?? null,
      p_mcnemar_holm: c.mcnemar.p_holm,
      p_perm_holm: c.permutation.p_holm,
      significance: c.permutation.p_holm < 0.05 ? 'Holm p < 0.05' : 'not significant',
    }));
  const yC = { field: 'contrast', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } } as const;
  const figures: Figure[] = [accuracy];
  let contrastsFig: Figure | undefined;
  if (cRows.length > 0) {
    contrastsFig = await figure(
      'vision-contrasts',
      'Bias contrasts on the same images',
      `Accuracy difference a − b with a 95 % bootstrap interval over classes; red: paired permutation test over classes p < 0.05 after Holm adjustment over the ${cRows.length} contrasts (the table also gives the exact McNemar test, Holm-adjusted likewise).`,
      {
        width: 420,
        height: Math.max(120, 16 * cRows.length),
        data: { values: cRows },
        layer: [
          { name: 'contrast_ci', transform: [{ filter: 'datum.lo != null' }], mark: { type: 'rule', strokeWidth: 2 }, encoding: { y: yC, x: { field: 'lo', type: 'quantitative', title: 'accuracy difference' }, x2: { field: 'hi' }, color: SIG } },
          { name: 'contrast', mark: { type: 'point', filled: true, size: 50 }, encoding: { y: yC, x: { field: 'diff', type: 'quantitative' }, color: SIG, tooltip: [{ field: 'contrast' }, { field: 'kind' }, { field: 'diff', format: '+.3f' }, { field: 'p_perm_holm', format: '.3g' }, { field: 'p_mcnemar_holm', format: '.3g' }] } },
          { name: 'zero', data: { values: [{ x: 0 }] }, mark: { type: 'rule', color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
        ],
      },
      { contrast: cRows.length, contrast_ci: cRows.filter((r) => r.lo !== null).length, zero: 1 },
    );
    figures.push(contrastsFig);
  }

  // ---- cut fraction ----
  const cutRows = personas.filter(([, p]) => p.cut_fraction !== null).map(([persona, p]) => ({ persona, cut: p.cut_fraction, classes: p.cut_classes, label: `${num(p.cut_fraction)} (${p.cut_classes} of ${m.n_classes})` }));
  const cutY = { field: 'persona', type: 'nominal', sort: { field: 'cut', order: 'descending' }, title: null, axis: { labelLimit: 320 } } as const;
  let cutFig: Figure | undefined;
  if (cutRows.length > 0) {
    cutFig = await figure(
      'vision-cut-fraction',
      'Texts cut at 77 CLIP tokens',
      'Fraction of classes whose "A photo of {description}" text was longer than 77 tokens. In the seed (truncation: seed) every cut text gets the same content-free embedding, so its classes tie and the lowest class index wins.',
      {
        width: 420,
        height: Math.max(120, 16 * cutRows.length),
        data: { values: cutRows },
        layer: [
          { name: 'cut', mark: { type: 'bar', color: '#ff7f0e' }, encoding: { y: cutY, x: { field: 'cut', type: 'quantitative', title: 'fraction of classes cut', scale: { domain: [0, 1] } }, tooltip: [{ field: 'persona' }, { field: 'cut', format: '.3f' }, { field: 'classes' }] } },
          // The value beside each bar: a run with no cut text would otherwise show an empty panel.
          { name: 'cut_label', mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 }, encoding: { y: cutY, x: { field: 'cut', type: 'quantitative' }, text: { field: 'label' } } },
        ],
      },
      { cut: cutRows.length, cut_label: cutRows.length },
    );
    figures.push(cutFig);
  }

  const personaTable = table(
    ['persona', 'n', 'correct', 'accuracy', '95 % CI (Wilson)', '95 % CI (bootstrap over classes)', 'texts cut'],
    personas
      .sort((a, b) => b[1].accuracy - a[1].accuracy)
      .map(([persona, p]) => [persona, p.n, p.correct, num(p.accuracy), ci(p.wilson95), ci(p.bootstrap95_classes), p.cut_fraction === null ? '–' : `${num(p.cut_fraction)} (${p.cut_classes})`]),
  );
  const contrastTable = table(
    ['a − b', 'kind', 'Δ', '95 % CI (classes)', 'only a', 'only b', 'McNemar p', 'Holm p', 'permutation p', 'Holm p', 'test'],
    m.contrasts.map((c) => [
      `${c.a} − ${c.b}`, KIND_LABEL[c.kind], num(c.diff, true), ci(c.ci95_classes), c.mcnemar.only_a, c.mcnemar.only_b,
      pval(c.mcnemar.p), pval(c.mcnemar.p_holm), pval(c.permutation.p), pval(c.permutation.p_holm),
      c.permutation.exact ? `exact (${c.permutation.classes_differing} classes differ)` : `${c.permutation.permutations} random sign flips`,
    ]),
  );
  const sections: Section[] = [
    { id: 'vision-personas', title: 'Personas', html: `${figureHtml(accuracy)}${personaTable}` },
    { id: 'vision-contrasts', title: 'Bias contrasts', html: `${contrastsFig ? figureHtml(contrastsFig) : '<p>No contrasts (the run lacks the paired personas).</p>'}<p>${esc(`Holm family: ${m.settings.holm_family}.`)}</p>${contrastTable}` },
    ...(cutFig ? [{ id: 'vision-truncation', title: 'Truncated texts', html: figureHtml(cutFig) }] : []),
  ];
  return { figures, sections };
}
