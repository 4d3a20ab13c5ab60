/** The bandit sections of a report: regret, accuracy and probit coefficients by persona age, from metrics.json. */
import type { BanditMetrics } from '../tasks/bandit/report.js';
import { parseAge } from '../tasks/bandit/probit.js';
import { Z_975, wilsonCi95 } from '../stats/intervals.js';
import { figure, type Figure } from './charts.js';
import { figureHtml } from './mmlu.js';
import { ci, esc, num, table, type Section } from './html.js';

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** accAvg as a count out of the completed games, with its Wilson interval. */
function accCi(acc: number | null, games: number) {
  return finite(acc) && games > 0 ? wilsonCi95(Math.round(acc * games), games) : null;
}

/** Two points of a fitted line over [lo, hi], for a line mark. */
function trendLine(t: { slope: number; intercept: number } | null | undefined, ages: number[]) {
  if (!t || ages.length === 0) return [];
  const lo = Math.min(...ages);
  const hi = Math.max(...ages);
  return [lo, hi].map((age) => ({ age, value: t.intercept + t.slope * age }));
}

export function banditHeadline(m: BanditMetrics): string {
  const t = m.age_trends.regret;
  const aged = m.personas.filter((p) => parseAge(p.persona) !== null && p.games > 0).length;
  return t
    ? `regret over age: slope ${num(t.slope, true, 4)} per year (SE ${num(t.se, false, 4)}) across ${aged} age personas; ${t.slope < 0 ? 'older personas regret less' : 'older personas do not regret less'}`
    : `regret over age: no trend (${aged} age personas with games)`;
}

export async function banditSections(m: BanditMetrics): Promise<{ figures: Figure[]; sections: Section[] }> {
  const aged = m.personas
    .map((p) => ({ p, age: parseAge(p.persona) }))
    .filter((x): x is { p: BanditMetrics['personas'][number]; age: number } => x.age !== null && x.p.games > 0);
  const ages = aged.map((x) => x.age);
  const none = m.personas.find((p) => p.persona === 'none' && p.games > 0);
  const ageX = { field: 'age', type: 'quantitative', title: 'persona age (years)' } as const;

  // ---- regret by age ----
  const rRows = aged.filter((x) => finite(x.p.loss)).map((x) => ({ age: x.age, persona: x.p.persona, loss: x.p.loss, lo: x.p.lossCi95?.[0] ?? null, hi: x.p.lossCi95?.[1] ?? null, games: x.p.games }));
  const rTrend = trendLine(m.age_trends.regret, ages);
  const regret = await figure(
    'bandit-regret',
    'Regret by persona age',
    `Mean expected regret per game with Student-t 95 % intervals over games; the line is the OLS fit over age${none ? '; the dashed line is the no-persona baseline' : ''}.`,
    {
      width: 560,
      height: 260,
      layer: [
        { name: 'regret_ci', data: { values: rRows }, transform: [{ filter: 'datum.lo != null' }], mark: 'rule', encoding: { x: ageX, y: { field: 'lo', type: 'quantitative', title: 'mean regret' }, y2: { field: 'hi' } } },
        { name: 'regret', data: { values: rRows }, mark: { type: 'point', filled: true, size: 45 }, encoding: { x: ageX, y: { field: 'loss', type: 'quantitative' }, tooltip: [{ field: 'persona' }, { field: 'loss', format: '.3f' }, { field: 'games' }] } },
        ...(rTrend.length ? [{ name: 'regret_trend', data: { values: rTrend }, mark: { type: 'line' as const, color: '#d62728' }, encoding: { x: ageX, y: { field: 'value', type: 'quantitative' as const } } }] : []),
        ...(none ? [{ name: 'none_regret', data: { values: [{ y: none.loss }] }, mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#555' }, encoding: { y: { field: 'y', type: 'quantitative' as const } } }] : []),
      ],
    },
    { regret: rRows.length, regret_ci: rRows.filter((r) => r.lo !== null).length, regret_trend: rTrend.length ? 1 : 0, none_regret: none ? 1 : 0 },
  );

  // ---- accuracy by age ----
  const aRows = aged
    .filter((x) => finite(x.p.accAvg))
    .map((x) => {
      const c = accCi(x.p.accAvg, x.p.games);
      return { age: x.age, persona: x.p.persona, acc: x.p.accAvg, lo: c?.[0] ?? null, hi: c?.[1] ?? null };
    });
  const accuracy = await figure(
    'bandit-accuracy',
    'Accuracy by persona age',
    'acc_avg: share of games where the machine chosen in most trials is the better one, with Wilson 95 % intervals over games.',
    {
      width: 560,
      height: 220,
      data: { values: aRows },
      layer: [
        { name: 'acc_ci', transform: [{ filter: 'datum.lo != null' }], mark: 'rule', encoding: { x: ageX, y: { field: 'lo', type: 'quantitative', title: 'acc_avg', scale: { domain: [0, 1] } }, y2: { field: 'hi' } } },
        { name: 'acc', mark: { type: 'point', filled: true, size: 45, color: '#2ca02c' }, encoding: { x: ageX, y: { field: 'acc', type: 'quantitative' }, tooltip: [{ field: 'persona' }, { field: 'acc', format: '.3f' }] } },
      ],
    },
    { acc: aRows.length, acc_ci: aRows.filter((r) => r.lo !== null).length },
  );

  // ---- probit coefficients by age, one panel each ----
  const names = aged.find((x) => x.p.probit)?.p.probit?.names ?? [];
  const cRows = aged.flatMap((x) =>
    x.p.probit && finite(x.p.probit.coef[0])
      ? names.map((name, j) => {
          const v = x.p.probit!.coef[j]!;
          const se = x.p.probit!.se[j]!;
          return { kind: 'coef', coefficient: name, age: x.age, persona: x.p.persona, value: v, lo: finite(se) ? v - Z_975 * se : null, hi: finite(se) ? v + Z_975 * se : null };
        })
      : [],
  );
  const tRows = names.flatMap((name) => trendLine(m.age_trends.trends[name], ages).map((pt) => ({ kind: 'trend', coefficient: name, ...pt })));
  const probit = await figure(
    'bandit-probit',
    'Probit coefficients by persona age',
    `P(machine 1) = Φ(β_V·V + β_RU·RU + β_V/TU·V/TU) fitted per persona over all its trials: value (exploitation), relative uncertainty (directed exploration), value/total uncertainty (random exploration). Bars: ±${Z_975.toFixed(2)} SE; lines: OLS trend of each coefficient over age (converged fits).`,
    {
      data: { values: [...cRows, ...tRows] },
      facet: { column: { field: 'coefficient', type: 'nominal', sort: names, title: null, header: { labelFontSize: 13 } } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 250,
        height: 220,
        layer: [
          { name: 'coef_ci', transform: [{ filter: "datum.kind == 'coef' && datum.lo != null" }], mark: 'rule', encoding: { x: ageX, y: { field: 'lo', type: 'quantitative', title: 'coefficient' }, y2: { field: 'hi' } } },
          { name: 'coef', transform: [{ filter: "datum.kind == 'coef'" }], mark: { type: 'point', filled: true, size: 40, color: '#1f77b4' }, encoding: { x: ageX, y: { field: 'value', type: 'quantitative' }, tooltip: [{ field: 'persona' }, { field: 'value', format: '.3f' }] } },
          { name: 'coef_trend', transform: [{ filter: "datum.kind == 'trend'" }], mark: { type: 'line', color: '#d62728' }, encoding: { x: ageX, y: { field: 'value', type: 'quantitative' } } },
        ],
      },
    },
    { coef: cRows.length, coef_ci: cRows.filter((r) => r.lo !== null).length, coef_trend: names.filter((n) => m.age_trends.trends[n]).length },
  );

  const personaTable = table(
    ['persona', 'games', 'abandoned', 'regret', '95 % CI', 'acc_avg', '95 % CI (Wilson)', 'acc_last', ...names.map((n) => `β_${n} (SE)`), 'converged'],
    m.personas.map((p) => [
      p.persona, p.games, p.abandoned, num(p.loss), ci(p.lossCi95), num(p.accAvg), ci(accCi(p.accAvg, p.games)), num(p.accLast),
      ...names.map((_, j) => (p.probit ? `${num(p.probit.coef[j])} (${num(p.probit.se[j])})` : '–')),
      p.probit ? String(p.probit.converged) : '–',
    ]),
  );
  const trendTable = table(
    ['quantity', 'slope per year', 'SE', 'intercept', 'personas'],
    [
      ...names.filter((n) => m.age_trends.trends[n]).map((n) => { const t = m.age_trends.trends[n]!; return [`β_${n}`, num(t.slope, true, 4), num(t.se, false, 4), num(t.intercept), t.n]; }),
      ...(m.age_trends.regret ? [['regret', num(m.age_trends.regret.slope, true, 4), num(m.age_trends.regret.se, false, 4), num(m.age_trends.regret.intercept), m.age_trends.regret.n]] : []),
    ],
  );
  const sections: Section[] = [
    { id: 'headline', title: 'Headline', html: `<p class="headline">${esc(banditHeadline(m))}</p><p>${m.games_per_persona} games × ${m.trials} trials per persona, ${esc(m.design)} design, seed ${esc(m.seed)}, acc_last ${esc(m.acc_last_mode)}.</p>` },
    { id: 'regret', title: 'Regret and accuracy', html: figureHtml(regret) + figureHtml(accuracy) },
    { id: 'probit', title: 'Exploration: probit coefficients', html: figureHtml(probit) + trendTable },
    { id: 'personas', title: 'Personas', html: personaTable },
  ];
  return { figures: [regret, accuracy, probit], sections };
}
