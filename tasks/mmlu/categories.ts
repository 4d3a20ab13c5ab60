/**
 * MMLU subject → subcategory → category, as published with MMLU (Hendrycks et al. 2021, `categories.py` in
 * github.com/hendrycks/test: the `subcategories` and `categories` dicts). Every subject has exactly one subcategory
 * there, though the published dict wraps it in a list; the lists are kept so the data stays comparable to the source.
 */

const SUBCATEGORIES = {
  abstract_algebra: ['math'],
  anatomy: ['health'],
  astronomy: ['physics'],
  business_ethics: ['business'],
  clinical_knowledge: ['health'],
  college_biology: ['biology'],
  college_chemistry: ['chemistry'],
  college_computer_science: ['computer science'],
  college_mathematics: ['math'],
  college_medicine: ['health'],
  college_physics: ['physics'],
  computer_security: ['computer science'],
  conceptual_physics: ['physics'],
  econometrics: ['economics'],
  electrical_engineering: ['engineering'],
  elementary_mathematics: ['math'],
  formal_logic: ['philosophy'],
  global_facts: ['other'],
  high_school_biology: ['biology'],
  high_school_chemistry: ['chemistry'],
  high_school_computer_science: ['computer science'],
  high_school_european_history: ['history'],
  high_school_geography: ['geography'],
  high_school_government_and_politics: ['politics'],
  high_school_macroeconomics: ['economics'],
  high_school_mathematics: ['math'],
  high_school_microeconomics: ['economics'],
  high_school_physics: ['physics'],
  high_school_psychology: ['psychology'],
  high_school_statistics: ['math'],
  high_school_us_history: ['history'],
  high_school_world_history: ['history'],
  human_aging: ['health'],
  human_sexuality: ['culture'],
  international_law: ['law'],
  jurisprudence: ['law'],
  logical_fallacies: ['philosophy'],
  machine_learning: ['computer science'],
  management: ['business'],
  marketing: ['business'],
  medical_genetics: ['health'],
  miscellaneous: ['other'],
  moral_disputes: ['philosophy'],
  moral_scenarios: ['philosophy'],
  nutrition: ['health'],
  philosophy: ['philosophy'],
  prehistory: ['history'],
  professional_accounting: ['other'],
  professional_law: ['law'],
  professional_medicine: ['health'],
  professional_psychology: ['psychology'],
  public_relations: ['politics'],
  security_studies: ['politics'],
  sociology: ['culture'],
  us_foreign_policy: ['politics'],
  virology: ['health'],
  world_religions: ['philosophy'],
} as const;

export type MmluSubject = keyof typeof SUBCATEGORIES;
export type MmluSubcategory = (typeof SUBCATEGORIES)[MmluSubject][number];

/** The published `subcategories` dict: subject → [subcategory]. */
export const MMLU_SUBCATEGORIES: Readonly<Record<MmluSubject, readonly [MmluSubcategory]>> = SUBCATEGORIES;

/** The published `categories` dict: category → subcategories, in the published order. */
export const MMLU_CATEGORIES = {
  STEM: ['physics', 'chemistry', 'biology', 'computer science', 'math', 'engineering'],
  humanities: ['history', 'philosophy', 'law'],
  'social sciences': ['politics', 'culture', 'economics', 'geography', 'psychology'],
  'other (business, health, misc.)': ['other', 'business', 'health'],
} as const satisfies Record<string, readonly MmluSubcategory[]>;

export type MmluCategory = keyof typeof MMLU_CATEGORIES;
export const MMLU_CATEGORY_NAMES = Object.keys(MMLU_CATEGORIES) as MmluCategory[];

/** The 57 subjects in alphabetical order (the published dict is already sorted). */
export const MMLU_SUBJECTS = Object.keys(SUBCATEGORIES) as MmluSubject[];

export function isMmluSubject(s: string): s is MmluSubject {
  return Object.hasOwn(SUBCATEGORIES, s);
}

const CATEGORY_OF_SUBCATEGORY = new Map<MmluSubcategory, MmluCategory>(
  MMLU_CATEGORY_NAMES.flatMap((c) => MMLU_CATEGORIES[c].map((sc) => [sc, c] as const)),
);

function assertSubject(subject: string): MmluSubject {
  if (!isMmluSubject(subject)) throw new Error(`unknown MMLU subject: ${JSON.stringify(subject)}`);
  return subject;
}

export function subjectSubcategory(subject: string): MmluSubcategory {
  return SUBCATEGORIES[assertSubject(subject)][0];
}

/** Category of a subject; throws on a name that is not one of the 57 subjects. */
export function subjectCategory(subject: string): MmluCategory {
  // Every subcategory appears in exactly one category (checked by the tests), so the lookup cannot miss.
  return CATEGORY_OF_SUBCATEGORY.get(subjectSubcategory(subject))!;
}

export function subjectsInCategory(category: MmluCategory): MmluSubject[] {
  return MMLU_SUBJECTS.filter((s) => subjectCategory(s) === category);
}

/**
 * The task-expert persona of a subject as in the seed's config (SPEC §2 "Personas"): underscores become spaces plus
 * " expert"; the config capitalises "US" in the one exception (golden personas.json `mmlu_task_to_persona_mismatches`).
 */
export function expertPersonaFor(subject: string): string {
  if (subject === 'us_foreign_policy') return 'US foreign policy expert';
  return `${subject.replaceAll('_', ' ')} expert`;
}
