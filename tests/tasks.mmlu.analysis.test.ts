import { describe, expect, it } from 'vitest';
import {
  analyzeExperts,
  defaultPersonaGroups,
  personaSubjectMetrics,
  type CellAccuracy,
  type CategorySummary,
  type GroupSummary,
} from '../tasks/mmlu/analysis.js';

const near = (actual: number | null | undefined, expected: number, tol = 1e-12) => {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThan(tol);
};
// Printed t table, two-sided 95 %.
const T975 = { 2: 4.302653, 3: 3.182446, 4: 2.776445 } as const;

function expectSummary(g: GroupSummary, n: number, m: number | null, sd?: number, t?: number) {
  expect(g.n_subjects).toBe(n);
  if (m === null) expect(g.mean).toBeNull();
  else near(g.mean, m);
  if (sd === undefined || t === undefined) return expect(g.ci95).toBeNull();
  const half = (t * sd) / Math.sqrt(n);
  near(g.ci95?.[0], m! - half, 1e-6);
  near(g.ci95?.[1], m! + half, 1e-6);
}

const AA = 'abstract algebra expert';
const AS = 'astronomy expert';
const CP = 'college physics expert';
const PH = 'philosophy expert';
// Correct answers out of 10 (persona × subject). STEM: abstract_algebra, astronomy, college_physics;
// humanities: philosophy (a one-subject category); other: virology (its expert never ran) and management
// (no scored item at all). The student's virology answers were all discarded (n = 0).
const counts: [string, string, number, number][] = [
  [AA, 'abstract_algebra', 8, 10], [AA, 'astronomy', 5, 10], [AA, 'college_physics', 4, 10], [AA, 'philosophy', 3, 10], [AA, 'virology', 2, 10],
  [AS, 'abstract_algebra', 12, 20], [AS, 'astronomy', 9, 10], [AS, 'college_physics', 5, 10], [AS, 'philosophy', 4, 10], [AS, 'virology', 3, 10],
  [CP, 'abstract_algebra', 4, 10], [CP, 'astronomy', 6, 10], [CP, 'college_physics', 7, 10], [CP, 'philosophy', 2, 10], [CP, 'virology', 5, 10],
  [PH, 'abstract_algebra', 3, 10], [PH, 'astronomy', 3, 10], [PH, 'college_physics', 3, 10], [PH, 'philosophy', 6, 10], [PH, 'virology', 4, 10],
  ['teacher', 'abstract_algebra', 5, 10], ['teacher', 'astronomy', 5, 10], ['teacher', 'college_physics', 5, 10], ['teacher', 'philosophy', 5, 10], ['teacher', 'virology', 5, 10],
  ['student', 'abstract_algebra', 2, 10], ['student', 'astronomy', 4, 10], ['student', 'college_physics', 6, 10], ['student', 'philosophy', 8, 10], ['student', 'virology', 0, 0],
  ['teacher', 'management', 0, 0],
];
const cells: CellAccuracy[] = counts.map(([persona, subject, correct, n]) => ({ persona, subject, correct, n }));
const groups = defaultPersonaGroups(['teacher', 'student']);

describe('analyzeExperts: per subject', () => {
  const result = analyzeExperts(cells, groups);
  const bySubject = Object.fromEntries(result.subjects.map((s) => [s.subject, s]));

  it('lists the subjects present, alphabetically, with their categories', () => {
    expect(result.subjects.map((s) => [s.subject, s.category])).toEqual([
      ['abstract_algebra', 'STEM'],
      ['astronomy', 'STEM'],
      ['college_physics', 'STEM'],
      ['management', 'other (business, health, misc.)'],
      ['philosophy', 'humanities'],
      ['virology', 'other (business, health, misc.)'],
    ]);
  });

  it('computes task expert, domain, non-domain and neutral accuracies', () => {
    const aa = bySubject.abstract_algebra!;
    expect(aa.task_expert).toMatchObject({ persona: AA, n: 10, correct: 8, accuracy: 0.8 });
    // Wilson 8/10 (scipy binomtest(8, 10).proportion_ci('wilson')).
    near(aa.task_expert!.ci95![0], 0.490162, 1e-6);
    near(aa.task_expert!.ci95![1], 0.943318, 1e-6);
    // astronomy expert 12/20 = 0.6 and college physics expert 0.4: unweighted mean 0.5.
    expect(aa.domain_experts.n_personas).toBe(2);
    near(aa.domain_experts.accuracy, (0.6 + 0.4) / 2);
    expect(aa.non_domain_experts).toEqual({ n_personas: 1, accuracy: 0.3 });
    near(aa.neutral.accuracy, (0.5 + 0.2) / 2);
    expect(aa.random).toBe(0.25);

    near(bySubject.astronomy!.domain_experts.accuracy, (0.5 + 0.6) / 2);
    near(bySubject.college_physics!.neutral.accuracy, (0.5 + 0.6) / 2);
  });

  it('handles a lone humanities subject, an absent expert and zero scored items', () => {
    const ph = bySubject.philosophy!;
    expect(ph.domain_experts).toEqual({ n_personas: 0, accuracy: null });
    expect(ph.non_domain_experts.n_personas).toBe(3);
    near(ph.non_domain_experts.accuracy, (0.3 + 0.4 + 0.2) / 3);

    const vi = bySubject.virology!;
    expect(vi.expert_persona).toBe('virology expert');
    expect(vi.task_expert).toBeNull();
    expect(vi.domain_experts).toEqual({ n_personas: 0, accuracy: null });
    near(vi.non_domain_experts.accuracy, (0.2 + 0.3 + 0.5 + 0.4) / 4);
    expect(vi.neutral).toEqual({ n_personas: 1, accuracy: 0.5 }); // the student's n = 0 cell does not count

    const mg = bySubject.management!;
    expect(mg.task_expert).toBeNull();
    expect([mg.domain_experts, mg.non_domain_experts, mg.neutral]).toEqual(
      Array(3).fill({ n_personas: 0, accuracy: null }),
    );
  });

  it('reports a zero-scored task expert with null accuracy and interval', () => {
    const r = analyzeExperts([{ persona: AA, subject: 'abstract_algebra', n: 0, correct: 0 }], groups);
    expect(r.subjects[0]!.task_expert).toEqual({ persona: AA, n: 0, correct: 0, accuracy: null, ci95: null });
    expectSummary(r.categories[0]!.task_expert, 0, null);
  });
});

describe('analyzeExperts: per category', () => {
  const result = analyzeExperts(cells, groups);
  const cat = (name: string): CategorySummary => result.categories.find((c) => c.category === name)!;

  it('lists the four categories in published order, then all', () => {
    expect(result.categories.map((c) => [c.category, c.n_subjects])).toEqual([
      ['STEM', 3],
      ['humanities', 1],
      ['social sciences', 0],
      ['other (business, health, misc.)', 2],
      ['all', 6],
    ]);
  });

  it('averages STEM subjects with a t interval', () => {
    const stem = cat('STEM');
    // expert 0.8, 0.9, 0.7: mean 0.8, deviations 0, ±0.1 → s = √(0.02/2) = 0.1
    expectSummary(stem.task_expert, 3, 0.8, 0.1, T975[2]);
    // domain 0.5, 0.55, 0.45 → s = 0.05
    expectSummary(stem.domain_experts, 3, 0.5, 0.05, T975[2]);
    // non-domain 0.3 everywhere → s = 0, a degenerate interval
    expectSummary(stem.non_domain_experts, 3, 0.3, 0, T975[2]);
    // neutral 0.35, 0.45, 0.55 → s = 0.1
    expectSummary(stem.neutral, 3, 0.45, 0.1, T975[2]);
    expect(stem.random).toBe(0.25);
  });

  it('gives no interval for one subject and nulls for none', () => {
    expectSummary(cat('humanities').task_expert, 1, 0.6);
    expectSummary(cat('humanities').domain_experts, 0, null);
    expectSummary(cat('social sciences').neutral, 0, null);
    const other = cat('other (business, health, misc.)');
    expectSummary(other.task_expert, 0, null);
    expectSummary(other.non_domain_experts, 1, 0.35);
  });

  it('averages over all subjects for all', () => {
    const all = cat('all');
    // expert 0.8, 0.9, 0.7, 0.6: mean 0.75, squared deviations sum to 0.05 → s = √(0.05/3)
    expectSummary(all.task_expert, 4, 0.75, Math.sqrt(0.05 / 3), T975[3]);
    expectSummary(all.domain_experts, 3, 0.5, 0.05, T975[2]);
    // non-domain 0.3, 0.3, 0.3, 0.3, 0.35: mean 0.31, squared deviations 4·0.0001 + 0.0016 = 0.002
    expectSummary(all.non_domain_experts, 5, 0.31, Math.sqrt(0.002 / 4), T975[4]);
    // neutral 0.35, 0.45, 0.55, 0.65, 0.5: mean 0.5, squared deviations sum to 0.05
    expectSummary(all.neutral, 5, 0.5, Math.sqrt(0.05 / 4), T975[4]);
  });
});

describe('analyzeExperts: shape and validation', () => {
  it('has a stable key order and survives JSON', () => {
    const r = analyzeExperts(cells, groups);
    expect(Object.keys(r)).toEqual(['random_baseline', 'subjects', 'categories']);
    expect(Object.keys(r.subjects[0]!)).toEqual([
      'subject', 'category', 'expert_persona', 'task_expert', 'domain_experts', 'non_domain_experts', 'neutral', 'random',
    ]);
    expect(Object.keys(r.categories[0]!)).toEqual([
      'category', 'n_subjects', 'task_expert', 'domain_experts', 'non_domain_experts', 'neutral', 'random',
    ]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(JSON.stringify(analyzeExperts([...cells].reverse(), groups))).toBe(JSON.stringify(r));
  });

  it('accepts the expert map as a record', () => {
    const experts = Object.fromEntries(defaultPersonaGroups().experts as Map<string, string>);
    expect(analyzeExperts(cells, { experts, neutral: ['teacher', 'student'] })).toEqual(analyzeExperts(cells, groups));
  });

  it('rejects ambiguous input', () => {
    expect(() => analyzeExperts([...cells, cells[0]!], groups)).toThrow(/duplicate/);
    expect(() => analyzeExperts([{ persona: 'x', subject: 'algebra', n: 1, correct: 1 }], groups)).toThrow(/unknown/);
    expect(() => analyzeExperts([{ persona: 'x', subject: 'virology', n: 1, correct: 2 }], groups)).toThrow(RangeError);
    const twice = { experts: { virology: 'doctor', anatomy: 'doctor' }, neutral: [] };
    expect(() => analyzeExperts(cells, twice)).toThrow(/expert of virology and anatomy/);
    expect(() => analyzeExperts(cells, defaultPersonaGroups([AA]))).toThrow(/both neutral/);
  });
});

describe('personaSubjectMetrics', () => {
  it('counts scored, correct and discarded items per cell, sorted by persona then subject', () => {
    const rows = [
      { persona: 'b', subject: 'virology', correct: true },
      { persona: 'a', subject: 'virology', correct: null },
      { persona: 'b', subject: 'anatomy', correct: false },
      { persona: 'b', subject: 'virology', correct: false },
      { persona: 'B', subject: 'virology', correct: null },
      { persona: 'b', subject: 'virology', correct: null },
      { persona: 'b', subject: 'anatomy', correct: false },
      { persona: 'b', subject: 'virology', correct: true },
      { persona: 'b', subject: 'anatomy', correct: false },
      { persona: 'b', subject: 'anatomy', correct: false },
    ];
    const z2 = 1.959963984540054 ** 2;
    const m = personaSubjectMetrics(rows);
    // Code-unit order: uppercase before lowercase.
    expect(m.map((r) => [r.persona, r.subject])).toEqual([
      ['B', 'virology'],
      ['a', 'virology'],
      ['b', 'anatomy'],
      ['b', 'virology'],
    ]);
    expect(m[0]).toEqual({ persona: 'B', subject: 'virology', n: 0, correct: 0, accuracy: null, ci95: null, discarded: 1 });
    // 0 of 4: Wilson interval [0, z²/(4 + z²)]
    expect(m[2]).toMatchObject({ n: 4, correct: 0, accuracy: 0, discarded: 0 });
    expect(m[2]!.ci95![0]).toBe(0);
    near(m[2]!.ci95![1], z2 / (4 + z2), 1e-15);
    // 2 of 3 scored, 1 discarded; Wilson 2/3 (scipy binomtest(2, 3).proportion_ci('wilson')).
    expect(m[3]).toMatchObject({ n: 3, correct: 2, discarded: 1 });
    near(m[3]!.accuracy, 2 / 3);
    near(m[3]!.ci95![0], 0.20766, 1e-6);
    near(m[3]!.ci95![1], 0.938508, 1e-6);
    expect(Object.keys(m[3]!)).toEqual(['persona', 'subject', 'n', 'correct', 'accuracy', 'ci95', 'discarded']);
  });
});
