import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MMLU_CATEGORIES,
  MMLU_CATEGORY_NAMES,
  MMLU_SUBCATEGORIES,
  MMLU_SUBJECTS,
  expertPersonaFor,
  subjectCategory,
  subjectSubcategory,
  subjectsInCategory,
} from '../tasks/mmlu/categories.js';
import { goldenPath } from './support/golden.js';

const golden = JSON.parse(
  readFileSync(goldenPath('personas.json'), 'utf8'),
) as { mmlu_tasks_in_TASKS_order: string[]; mmlu_personas_in_config_order: string[] };

describe('MMLU categories', () => {
  it('maps exactly the 57 subjects of the golden task list, in alphabetical order', () => {
    expect(MMLU_SUBJECTS).toHaveLength(57);
    expect(MMLU_SUBJECTS).toEqual([...golden.mmlu_tasks_in_TASKS_order].sort());
    for (const s of golden.mmlu_tasks_in_TASKS_order) expect(MMLU_CATEGORY_NAMES).toContain(subjectCategory(s));
  });

  it('puts each subcategory in exactly one category and uses every subcategory', () => {
    const listed = MMLU_CATEGORY_NAMES.flatMap((c) => [...MMLU_CATEGORIES[c]]);
    expect(new Set(listed).size).toBe(listed.length);
    expect(new Set(Object.values(MMLU_SUBCATEGORIES).flat())).toEqual(new Set(listed));
  });

  it('has the published category sizes and placements', () => {
    const sizes = Object.fromEntries(MMLU_CATEGORY_NAMES.map((c) => [c, subjectsInCategory(c).length]));
    expect(sizes).toEqual({ STEM: 18, humanities: 13, 'social sciences': 12, 'other (business, health, misc.)': 14 });
    expect(subjectCategory('us_foreign_policy')).toBe('social sciences');
    expect(subjectCategory('human_sexuality')).toBe('social sciences');
    expect(subjectSubcategory('human_sexuality')).toBe('culture');
    expect(subjectCategory('formal_logic')).toBe('humanities');
    expect(subjectCategory('professional_accounting')).toBe('other (business, health, misc.)');
    expect(subjectCategory('high_school_statistics')).toBe('STEM');
    expect(() => subjectCategory('us foreign policy')).toThrow(/unknown MMLU subject/);
  });
});

describe('expertPersonaFor', () => {
  it('names every config persona as the expert of exactly one subject', () => {
    const experts = MMLU_SUBJECTS.map(expertPersonaFor);
    for (const p of golden.mmlu_personas_in_config_order) expect(experts.filter((e) => e === p)).toHaveLength(1);
    expect(new Set(experts)).toEqual(new Set(golden.mmlu_personas_in_config_order));
  });

  it('keeps the grammar verbatim and capitalises US only for us_foreign_policy', () => {
    expect(expertPersonaFor('abstract_algebra')).toBe('abstract algebra expert');
    expect(expertPersonaFor('high_school_us_history')).toBe('high school us history expert');
    expect(expertPersonaFor('us_foreign_policy')).toBe('US foreign policy expert');
  });
});
