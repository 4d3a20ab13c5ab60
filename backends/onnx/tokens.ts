/** Tokenization rules of the seed (SPEC §1.2–1.3) on top of transformers.js tokenizers. */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { PromptInput } from '../types.js';
import { chatMessages, type ChatMessage, type PromptFormat } from '../../prompts/formats.js';
import { ModelFolderError } from './folder.js';

type Tokenizer = Pick<PreTrainedTokenizer, 'encode' | 'decode' | 'all_special_ids'>;
type ChatTokenizer = Tokenizer & Pick<PreTrainedTokenizer, 'apply_chat_template' | 'chat_template'>;

/**
 * The token ids of a prompt in `format`. For chat_template the model's own template renders the messages and, as in
 * HF's `apply_chat_template(tokenize=True)`, the tokenizer adds no special tokens of its own: a template that wants a
 * BOS writes it (Llama-3's `{{ bos_token }}`), so it appears once. The seed's formats keep the seed's rule below.
 */
export function promptTokens(tokenizer: ChatTokenizer, format: PromptFormat, prompt: PromptInput): number[] {
  if (format !== 'chat_template') return encodePrompt(tokenizer, prompt.text);
  return tokenizer.encode(renderChatTemplate(tokenizer, chatMessages(prompt)), { add_special_tokens: false });
}

/** The model's chat template applied to `messages`, with the assistant turn opened (add_generation_prompt). */
export function renderChatTemplate(tokenizer: Pick<PreTrainedTokenizer, 'apply_chat_template'>, messages: ChatMessage[]): string {
  return tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as string;
}

/** Like HF `tokenizer(text).input_ids` (add_special_tokens=True): llama3_chat text therefore gets a 2nd BOS. */
export function encodePrompt(tokenizer: Tokenizer, text: string): number[] {
  return tokenizer.encode(text, { add_special_tokens: true });
}

export interface AnswerTokens {
  /** `tokenizer(option).input_ids[-1]` per option. */
  ids: number[];
  /**
   * Token(s) the seed appends to the prompt before reading logits: when an option tokenizes as
   * [BOS, "▁", "1"] (Llama-1/2 SentencePiece), the "▁" piece is the `postfix_token`. Empty for Llama-3.
   */
  postfix: number[];
}

/** Answer-token ids as the seed computes them; throws for options that are not one token after the postfix. */
export function answerTokens(tokenizer: Tokenizer, options: string[]): AnswerTokens {
  const special = new Set(tokenizer.all_special_ids);
  let postfix: number[] | undefined;
  const ids = options.map((option) => {
    const enc = encodePrompt(tokenizer, option).filter((id) => !special.has(id));
    const last = enc.at(-1);
    const lead = enc.slice(0, -1);
    if (last === undefined || (lead.length > 0 && tokenizer.decode(lead).trim() !== '')) {
      throw new Error(`answer option ${JSON.stringify(option)} is not a single token (ids ${JSON.stringify(enc)})`);
    }
    if (postfix && postfix.join() !== lead.join()) {
      throw new Error(`answer options ${JSON.stringify(options)} tokenize with different leading pieces`);
    }
    postfix = lead;
    return last;
  });
  return { ids, postfix: postfix ?? [] };
}

const FORMAT_TOKENS: Partial<Record<PromptFormat, string[]>> = {
  llama3_chat: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
};

/** A prompt format that needs special tokens only works with a tokenizer that has them as single tokens. */
export function checkFormat(tokenizer: ChatTokenizer, format: PromptFormat, dir: string): void {
  if (format === 'chat_template' && !tokenizer.chat_template) {
    throw new ModelFolderError(
      `Prompt format "chat_template" needs the model's chat template, but ${dir}/tokenizer_config.json has no ` +
        '"chat_template": use a named format (plain, llama3_chat, vicuna_v1.1, llama2_chat) for this model, or copy ' +
        'tokenizer_config.json from the instruct model it was exported from.',
    );
  }
  for (const token of FORMAT_TOKENS[format] ?? []) {
    const ids = tokenizer.encode(token, { add_special_tokens: false });
    if (ids.length !== 1) {
      throw new ModelFolderError(
        `Prompt format "${format}" needs the special token ${token}, which the tokenizer of ${dir} does not have: ` +
          'use the format of this model (plain, vicuna_v1.1, llama2_chat) or a Llama-3 model.',
      );
    }
  }
}

/** Ids that end generation in this format besides the model's eos ids (FastChat's stop tokens). */
export function formatStopIds(tokenizer: Tokenizer, format: PromptFormat): number[] {
  const stop = format === 'llama3_chat' ? ['<|eot_id|>'] : [];
  return stop.map((t) => tokenizer.encode(t, { add_special_tokens: false })).filter((ids) => ids.length === 1).map((ids) => ids[0]!);
}
