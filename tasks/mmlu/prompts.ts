/** MMLU item text and prompt rendering, byte-identical to the seed (SPEC §2). */
import type { MmluItem } from './data.js';
import { OPTION_LETTERS } from './data.js';

/** The special persona that renders a template's no-persona variant. */
export const NO_PERSONA = 'none';

export interface MmluTemplate {
  name: string;
  /** Between the option letter and its text: ": " in the seed, ") " in the fork's late variant. */
  separator: string;
  /** Must contain {context} and {character}. */
  text: string;
  /** Used for the persona "none"; must contain {context} and not {character}. */
  noPersona?: string;
}

/** `input + "\nA: " + A + ... + "\nD: " + D + "\n"` with the template's separator. */
export function itemText(item: MmluItem, separator = ': '): string {
  const r = item.row;
  return r.input + OPTION_LETTERS.map((l) => `\n${l}${separator}${r[l]}`).join('') + '\n';
}

/**
 * Python `str.format` in one pass over the template, so braces inside a question are never re-expanded.
 * `{{`/`}}` are literal braces as in Python; an unknown `{name}` is an error (Python raises KeyError).
 */
export function formatTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{(\w*)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const v = values[name ?? ''];
    if (v === undefined) throw new Error(`template placeholder {${name}} has no value`);
    return v;
  });
}

export function renderMmluPrompt(template: MmluTemplate, item: MmluItem, persona: string): string {
  const values = { context: itemText(item, template.separator), character: persona, task: item.subject.replaceAll('_', ' ') };
  if (persona === NO_PERSONA && template.noPersona !== undefined) return formatTemplate(template.noPersona, values);
  return formatTemplate(template.text, values);
}

/** Placeholders a template uses, for config validation. */
export function placeholders(template: string): string[] {
  return [...template.replace(/\{\{|\}\}/g, '').matchAll(/\{(\w*)\}/g)].map((m) => m[1] ?? '');
}
