/** MMLU reduce: the expert analysis's persona groups on a subset of subjects, and the paired persona statistics. */
import { describe, expect, it } from 'vitest';
import { mmluMetrics, runPersonaGroups } from '../tasks/mmlu/report.js';
import type { MmluSpec } from '../experiment/load.js';
import type { CellResult } from '../store/results.js';

export function fakeCell(persona: string, subject: string, index: number, correct: boolean | null): CellResult {
  return {
    run: 'r', task: 'mmlu', persona, item: `${subject}/test/${index}`, sample: 0, subject, itemIndex: index, label: 0,
    promptHash: 'h', method: 'logits', logprobs: null, absent: [], prediction: correct === null ? null : correct ? 0 : 1,
    correct, discarded: correct === null, rawText: null, attempts: 1, backend: 'test',
  };
}

export function fakeSpec(personas: string[], subjects: string[], neutral: string[] = []): MmluSpec {
  return {
    run: 'r', task: 'mmlu', personas, groups: { neutral }, data: { path: '/nowhere', split: 'test', subjects },
    template: { name: 'mmlu_paper' }, format: 'plain', scoring: { mode: 'logits' }, model: { backend: 'openai', model: 'm' },
  } as unknown as MmluSpec;
}

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
