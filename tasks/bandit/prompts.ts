/** Bandit trial prompts, byte-identical to the seed and the fork (SPEC §3 "Prompt strings", "Wrapping per backend"). */
import { chatSystem, formatPrompt, type ChatSpec, type PromptFormat } from '../../prompts/formats.js';
import { pyFloatListRepr } from './format.js';
import { NUM_TRIALS } from './env.js';

export const INSTRUCTION_TEMPLATE =
  'In this game, you have a choice between two slot machines, represented by machine 1 and machine 2. Choosing the same slot machine will not always give you the same points, but one slot machine is always better than the other. The outcomes will tend to give points around their average value. After making your choice, you will receive feedback about the outcome. Your goal is to choose the slot machine that will give you the most points over the course of {num_trials} trials.\n';
export const IMPERSONATION_PROMPT = 'If you were a {character}';
export const QUESTION = 'Question: Which machine do you choose between machine 1 and machine 2?';
export const HISTORY_HEAD = '\n\nYou have received the following points when playing in the past:\n';
export const LLM_START = 'Answer: Machine';
/** The persona the seed renders without impersonation; compared case-sensitively, as the bandit code does. */
export const NO_PERSONA = 'none';

export interface BanditPrompt {
  system?: string;
  user: string;
  assistantPrefix?: string;
  /** The full string given to the tokenizer (or, for 'plain', sent to the API). */
  text: string;
}

/**
 * The user message for trial `trialIndex` (0-based). `history` holds the already-rounded points per machine
 * (`BanditEnv.history`). Llama-2 gets no "\nAnswer: Machine" suffix because it is prefilled as the assistant turn.
 */
export function banditUserMessage(
  persona: string,
  trialIndex: number,
  history: readonly [readonly number[], readonly number[]],
  format: PromptFormat,
  numTrials = NUM_TRIALS,
): string {
  if (!Number.isInteger(trialIndex) || trialIndex < 0) throw new RangeError(`trial index must be an integer >= 0, got ${trialIndex}`);
  const suffix = format === 'llama2_chat' ? '' : `\n${LLM_START}`;
  const instruction = INSTRUCTION_TEMPLATE.replace('{num_trials}', () => String(numTrials));
  const none = persona === NO_PERSONA;
  const impersonation = IMPERSONATION_PROMPT.replace('{character}', () => persona); // a function: `$&` in a persona stays literal
  if (trialIndex === 0) {
    const question = none ? QUESTION : `Question: ${impersonation}, which machine do you choose between machine 1 and machine 2?`;
    return `${instruction}Let's start with the first trial.\n\n${question}${suffix}`;
  }
  const trial = trialIndex + 1;
  const question = none
    ? `\n\nQuestion: You are now performing trial ${trial}. Which machine do you choose between machine 1 and machine 2?`
    : `\n\nQuestion: You are now performing trial ${trial}. ${impersonation}, which machine do you choose between machine 1 and machine 2?`;
  return (
    instruction +
    HISTORY_HEAD +
    `- List of points received from machine 1: ${pyFloatListRepr(history[0])}` +
    `\n- List of points received from machine 2: ${pyFloatListRepr(history[1])}` +
    question +
    suffix
  );
}

/** System message per format; the seed always passes `change_system_prompt=True` in the bandit, so "none" too gets one. */
function systemMessage(persona: string, format: PromptFormat, chat?: ChatSpec): string | undefined {
  if (format === 'chat_template') return chatSystem(chat, persona);
  if (format === 'llama3_chat') return `You are a ${persona}.`;
  if (format === 'llama2_chat') return `Act as if you were a ${persona}.`;
  return undefined; // plain: none; Vicuna: its default system message
}

export function buildBanditPrompt(
  persona: string,
  trialIndex: number,
  history: readonly [readonly number[], readonly number[]],
  format: PromptFormat,
  numTrials = NUM_TRIALS,
  chat?: ChatSpec,
): BanditPrompt {
  const user = banditUserMessage(persona, trialIndex, history, format, numTrials);
  const system = systemMessage(persona, format, chat);
  const assistantPrefix = format === 'llama2_chat' ? LLM_START : undefined;
  const text = formatPrompt(format, { system, user, assistantPrefix });
  return {
    ...(system !== undefined && { system }),
    user,
    ...(assistantPrefix !== undefined && { assistantPrefix }),
    text,
  };
}
