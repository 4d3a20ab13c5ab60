/**
 * Description prompts of the vision-language task, byte-identical to the seed (VISION.md §3, clip_dotf_module.py
 * L36–57 and L192–219; golden: shared/spec/golden/clip_descriptions.json).
 *
 * - The template's `{impersonation_command}` is substituted once, as a literal string (the seed does it at init).
 * - Persona `none` (matched with `.lower() == "none"`) replaces `"{command} {character}, how"` by `"How"`.
 * - Persona `class_name` makes no LLM call: its description is the class name (see `classNameDescription`).
 * - The rest is Python `str.format` (langchain `PromptTemplate`) with `character`, `n` and `class_name`.
 * - The rendered text is then wrapped in the model's prompt format: `vicuna_v1.1` for the seed's Vicuna-13B,
 *   `plain` for ChatGPT, `chat_template` (messages, rendered by the model folder's template) for local instruct models.
 */
import { chatMessages, formatPrompt, type ChatMessage, type PromptFormat } from '../../prompts/formats.js';
import { formatTemplate, placeholders } from '../mmlu/prompts.js';

export const SEED_TEMPLATE =
  '{impersonation_command} {character}, how would you answer the following question in {n} words?\nQ: What is an {class_name}?\nA: It is';
export const SEED_IMPERSONATION_COMMAND = 'If you were a';
export const SEED_N_WORDS = 45;
export const SEED_STOP: readonly string[] = ['Q:', 'A:'];

/** Baseline persona without an impersonation clause. */
export const NONE_PERSONA = 'none';
/** Baseline persona whose description is the class name itself (no LLM call). */
export const CLASS_NAME_PERSONA = 'class_name';

/** The seed's 11 personas (configs/model/clip_dotf.yaml L20–33), in its order. */
export const SEED_PERSONAS: readonly string[] = [
  '2 year old',
  '4 year old',
  '7 year old',
  '13 year old',
  '20 year old',
  'white person',
  'black person',
  'man',
  'woman',
  'ornithologist',
  'car mechanic',
];
/** The seed's personas plus both baselines: the default persona list of the task. */
export const DEFAULT_PERSONAS: readonly string[] = [...SEED_PERSONAS, NONE_PERSONA, CLASS_NAME_PERSONA];

export interface DescribeTemplate {
  /** Must contain `{impersonation_command}` (the seed asserts it), `{character}` and `{class_name}`. */
  text: string;
  impersonationCommand: string;
  nWords: number;
}

export const SEED_DESCRIBE_TEMPLATE: DescribeTemplate = {
  text: SEED_TEMPLATE,
  impersonationCommand: SEED_IMPERSONATION_COMMAND,
  nWords: SEED_N_WORDS,
};

export function isNonePersona(persona: string): boolean {
  return persona.toLowerCase() === NONE_PERSONA;
}

/** True when the persona asks the LLM (every persona but `class_name`). */
export function needsLlm(persona: string): boolean {
  return persona !== CLASS_NAME_PERSONA;
}

/** Checks a template the way the seed would fail on it, but up front and with the fix. */
export function checkDescribeTemplate(t: DescribeTemplate, field = 'template'): void {
  if (!t.text.includes('{impersonation_command}')) {
    throw new Error(`${field}.text has no {impersonation_command}: the seed asserts it (clip_dotf_module.py L53); add it where the "If you were a" clause goes`);
  }
  const known = new Set(['impersonation_command', 'character', 'n', 'class_name']);
  const unknown = placeholders(t.text).filter((p) => !known.has(p));
  if (unknown.length > 0) throw new Error(`${field}.text has unknown placeholders ${unknown.map((u) => `{${u}}`).join(', ')}; use only {impersonation_command}, {character}, {n} and {class_name}`);
  if (!t.text.includes('{class_name}')) throw new Error(`${field}.text has no {class_name}: every class would get the same prompt`);
  if (t.impersonationCommand.includes('{') || t.impersonationCommand.includes('}')) {
    throw new Error(`${field}.impersonation_command must not contain braces (the seed substitutes it as a literal)`);
  }
  if (!Number.isInteger(t.nWords) || t.nWords < 1) throw new Error(`${field}.n_words must be a positive integer, got ${t.nWords}`);
}

/** The template after the seed's init-time substitution of the impersonation command, and the `none` rewrite. */
export function personaTemplate(t: DescribeTemplate, persona: string): string {
  const base = t.text.replaceAll('{impersonation_command}', () => t.impersonationCommand);
  if (!isNonePersona(persona)) return base;
  const clause = `${t.impersonationCommand} {character}, how`;
  if (!base.includes(clause)) {
    // The seed would then raise a KeyError for {character} in PromptTemplate.format.
    throw new Error(`template has no "${clause}" clause, so persona "none" cannot drop it; write the template as "{impersonation_command} {character}, how ..." or leave "none" out of personas`);
  }
  return base.replaceAll(clause, 'How');
}

/**
 * The plain description prompt of (persona, class), or null for `class_name` (no LLM call).
 * Example: `If you were a 2 year old, how would you answer the following question in 45 words?\nQ: What is an Black footed Albatross?\nA: It is`.
 */
export function describePrompt(persona: string, className: string, t: DescribeTemplate = SEED_DESCRIBE_TEMPLATE): string | null {
  if (!needsLlm(persona)) return null;
  const values: Record<string, string> = { n: String(t.nWords), class_name: className };
  if (!isNonePersona(persona)) values.character = persona;
  return formatTemplate(personaTemplate(t, persona), values);
}

/** The description of the `class_name` baseline. */
export function classNameDescription(className: string): string {
  return className;
}

/** What a backend gets: the rendered string (plain, vicuna_v1.1, llama3_chat, llama2_chat) or the chat messages. */
export type RenderedPrompt = { text: string } | { messages: ChatMessage[] };

/**
 * A plain prompt (description or cleaning) in the model's format, as one user turn with the template's default
 * system message (the seed's Vicuna wrapping: no persona system message).
 */
export function renderPrompt(format: PromptFormat, prompt: string): RenderedPrompt {
  if (format === 'chat_template') return { messages: chatMessages({ user: prompt }) };
  return { text: formatPrompt(format, { user: prompt }) };
}
