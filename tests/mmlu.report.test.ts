/** MMLU reduce: the expert analysis's persona groups on a subset of subjects, and the paired persona statistics. */
import { describe, expect, it } from 'vitest';
import { mmluMetrics, runPersonaGroups } from '../tasks/mmlu/report.js';
import { fakeCell, fakeSpec } from './support/mmluFakes.js';

describe('expert analysis on a subset of subjects', () => {
  // One subject run (abstract_algebra, STEM) with its own expert, two other STEM experts, two experts of other
  // categories, a neutral persona: the other experts must be classified by their own subjects' categories.
  const personas = ['abstract algebra expert', 'college physics expert', 'machine learning expert', 'anatomy expert', 'philosophy expert', 'teacher', 'none'];
  const score: Record<string, boolean[]> = {
    'abstract algebra expert': [true, true, true, true],
    'college physics expert': [true, true, false, false],
    'machine learning expert': [true, false, false, false],
    'anatomy expert': [false, false, false, false],
    'philosophy expert': [true, true, true, false],
    teacher: [true, false, true, false],
    none: [false, true, false, false],
  };
  const cells = personas.flatMap((p) => score[p]!.map((c, i) => fakeCell(p, 'abstract_algebra', i, c)));

  it('counts experts of subjects that were not run as domain and non-domain experts', () => {
    const groups = runPersonaGroups({ groups: { neutral: ['teacher'] } }, new Set(personas));
    expect([...(groups.experts as Map<string, string>).keys()].sort()).toEqual(['abstract_algebra', 'anatomy', 'college_physics', 'machine_learning', 'philosophy']);
    const m = mmluMetrics(fakeSpec(personas, ['abstract_algebra'], ['teacher']), cells);
    const [row] = m.expert_analysis.subjects;
    expect(row!.task_expert?.accuracy).toBe(1);
    expect(row!.domain_experts).toEqual({ n_personas: 2, accuracy: (0.5 + 0.25) / 2 });
    expect(row!.non_domain_experts).toEqual({ n_personas: 2, accuracy: (0 + 0.75) / 2 });
    expect(row!.neutral).toEqual({ n_personas: 1, accuracy: 0.5 });
  });

  it('leaves out experts and neutral personas that are not in the run', () => {
    const groups = runPersonaGroups({ groups: { neutral: ['teacher', 'absent'] } }, new Set(['anatomy expert', 'teacher']));
    expect([...(groups.experts as Map<string, string>).entries()]).toEqual([['anatomy', 'anatomy expert']]);
    expect(groups.neutral).toEqual(['teacher']);
  });
});

describe('persona tests against the controls', () => {
  // 12 questions. "none" is right on q0-q3; "expert" on q0-q9; "teacher" (neutral) on q0-q5; "poet" like "none"
  // but its q11 was discarded.
  const right: Record<string, (q: number) => boolean | null> = {
    none: (q) => q < 4,
    expert: (q) => q < 10,
    teacher: (q) => q < 6,
    poet: (q) => (q === 11 ? null : q < 4),
  };
  const cells = Object.entries(right).flatMap(([p, f]) => Array.from({ length: 12 }, (_, q) => fakeCell(p, 'anatomy', q, f(q))));
  const m = mmluMetrics(fakeSpec(Object.keys(right), ['anatomy'], ['teacher']), cells);
  const get = (persona: string, control: string) => m.persona_tests.comparisons.find((c) => c.persona === persona && c.control === control)!;

  it('compares every persona with none and with each neutral persona on the paired items', () => {
    expect(m.persona_tests.controls).toEqual(['none', 'teacher']);
    expect(m.persona_tests.comparisons).toHaveLength(3 + 3);
    expect(get('expert', 'none')).toMatchObject({ n: 12, questions: 12, only_persona: 6, only_control: 0, accuracy: 10 / 12, control_accuracy: 4 / 12 });
    expect(get('expert', 'none').diff).toBeCloseTo(0.5, 14);
    expect(get('expert', 'none').p_mcnemar).toBeCloseTo(2 / 64, 14);
    expect(get('expert', 'teacher')).toMatchObject({ only_persona: 4, only_control: 0 });
    // The discarded item has no pair.
    expect(get('poet', 'none')).toMatchObject({ n: 11, only_persona: 0, only_control: 0, p_mcnemar: 1, diff: 0 });
  });

  it('adjusts p-values within each control family', () => {
    const family = m.persona_tests.comparisons.filter((c) => c.control === 'none');
    const sorted = family.map((c) => c.p_mcnemar).sort((a, b) => a - b);
    // Holm's smallest adjusted p is m · p_min.
    expect(Math.min(...family.map((c) => c.p_holm))).toBeCloseTo(Math.min(1, family.length * sorted[0]!), 14);
    for (const c of family) {
      expect(c.p_holm).toBeGreaterThanOrEqual(c.p_mcnemar);
      expect(c.p_bh).toBeGreaterThanOrEqual(c.p_mcnemar);
      expect(c.p_bh).toBeLessThanOrEqual(c.p_holm + 1e-15);
    }
  });

  it('gives a bootstrap interval that contains the difference and is the same on every run', () => {
    const c = get('expert', 'none');
    expect(c.ci95![0]).toBeLessThanOrEqual(c.diff!);
    expect(c.ci95![1]).toBeGreaterThanOrEqual(c.diff!);
    expect(c.ci95![0]).toBeGreaterThan(0);
    expect(mmluMetrics(fakeSpec(Object.keys(right), ['anatomy'], ['teacher']), cells).persona_tests).toEqual(m.persona_tests);
  });
});
