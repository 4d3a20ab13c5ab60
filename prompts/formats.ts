/**
 * Prompt formats of the seed and the fork, reproduced from FastChat's conversation templates (SPEC §1.3).
 * These are *not* the models' own chat templates: they are what the Python code fed the tokenizer.
 * `chat_template` is the exception: the model folder's own template (tokenizer_config.json) renders the messages.
 * That needs the tokenizer, which lives with the model, so the task only builds the messages and the local backend
 * renders them (API backends send the messages as they are).
 */

export const PROMPT_FORMATS = ['plain', 'llama3_chat', 'vicuna_v1.1', 'llama2_chat', 'chat_template'] as const;
export type PromptFormat = (typeof PROMPT_FORMATS)[number];

/** `chat:` of a config with `format: chat_template`: which system message each persona gets. */
export interface ChatSpec {
  /** "You are a {persona}." style text, or null for no system message (the template's default, if it has one). */
  system: string | null;
}

/** The persona that stands for "no persona" in both tasks. */
const NO_PERSONA = 'none';

/** The system message of `persona` under `chat`; the persona "none" gets none (it is the no-persona baseline). */
export function chatSystem(chat: ChatSpec | undefined, persona: string): string | undefined {
  if (!chat?.system || persona === NO_PERSONA) return undefined;
  return chat.system.replaceAll('{persona}', () => persona);
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The messages a chat template (or a chat API) gets for these turns; an empty system string means none. */
export function chatMessages(turns: Pick<ChatTurns, 'system' | 'user'>): ChatMessage[] {
  return [...(turns.system ? [{ role: 'system' as const, content: turns.system }] : []), { role: 'user', content: turns.user }];
}

export interface ChatTurns {
  /** System message; `undefined` keeps the template's default (Vicuna) or none (Llama-3). */
  system?: string;
  user: string;
  /** Prefilled start of the assistant turn (bandit on Llama-2); `undefined` leaves the turn open. */
  assistantPrefix?: string;
}

export const VICUNA_SYSTEM =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

/** Python's `str.strip()` with no argument: strips what `str.isspace()` calls whitespace. JS `trim()` differs
 * (it strips U+FEFF, keeps U+001C..U+001F), so the fork's `U.strip()` is reproduced exactly here. */
export function pythonStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isPyspace(s.charCodeAt(start))) start++;
  while (end > start && isPyspace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function isPyspace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Render turns in one of the seed's formats, byte-identical to FastChat's `conv.get_prompt()`. */
export function formatPrompt(format: PromptFormat, turns: ChatTurns): string {
  switch (format) {
    case 'plain':
      return turns.user;
    case 'llama3_chat': {
      // FastChat "llama-3" (commit 27a05b04): system block only when non-empty; user message stripped, system not.
      const sys = turns.system ? `<|start_header_id|>system<|end_header_id|>\n\n${turns.system}<|eot_id|>` : '';
      const assistant =
        turns.assistantPrefix === undefined ? '' : `${pythonStrip(turns.assistantPrefix)}<|eot_id|>`;
      return (
        `<|begin_of_text|>${sys}<|start_header_id|>user<|end_header_id|>\n\n${pythonStrip(turns.user)}<|eot_id|>` +
        `<|start_header_id|>assistant<|end_header_id|>\n\n${assistant}`
      );
    }
    case 'vicuna_v1.1': {
      // ADD_COLON_TWO with sep " " and sep2 "</s>"; FastChat sets sep2 = " " when an assistant prefix is given.
      const system = turns.system ?? VICUNA_SYSTEM;
      const head = `${system} USER: ${turns.user} ASSISTANT:`;
      return turns.assistantPrefix === undefined ? head : `${head} ${turns.assistantPrefix} `;
    }
    case 'chat_template':
      // Rendered by the model's tokenizer; this canonical form identifies the prompt (hashes, logs).
      if (turns.assistantPrefix !== undefined) throw new Error('format chat_template has no assistant prefill');
      return JSON.stringify(chatMessages(turns));
    case 'llama2_chat': {
      // fschat 0.2.23 "llama-2": "[INST] <<SYS>>\n{S}\n<</SYS>>\n\n{U}[/INST] {A} " (no space before [/INST]).
      const sys = turns.system ? `<<SYS>>\n${turns.system}\n<</SYS>>\n\n` : '';
      const head = `[INST] ${sys}${turns.user}[/INST]`;
      return turns.assistantPrefix === undefined ? head : `${head} ${turns.assistantPrefix} `;
    }
  }
}
