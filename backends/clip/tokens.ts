/**
 * CLIP text tokens with the seed's rules (VISION.md §4): the fast tokenizer adds the start and end tokens, pads to
 * the longest text with the end token and never truncates; a text longer than the context (77) is then cut per
 * `TruncationMode`. The text model pools at argmax(ids) (the checkpoint's legacy eos_token_id == 2), so a `seed` cut,
 * which has no end token left, pools the start token.
 */
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { ModelFolderError } from '../onnx/folder.js';
import type { TruncationMode } from '../capabilities.js';

export interface ClipTokenizer {
  encode(text: string): number[];
  bos: number;
  eos: number;
  pad: number;
}

export interface ClipTokens {
  /** What the text model sees: cut to the context per the mode, start token first. */
  ids: number[];
  /** Token ids before any cut, start and end tokens included. */
  tokens: number;
  truncated: boolean;
  /** Where the model pools: the first position of the largest id. */
  poolIndex: number;
}

/** The folder's tokenizer.json through transformers.js, offline (local_files_only: never the hub). */
export async function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  let tok: PreTrainedTokenizer;
  try {
    tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw new ModelFolderError(`Cannot load the CLIP tokenizer of ${dir} (tokenizer.json, tokenizer_config.json): ${(e as Error).message}`);
  }
  const encode = (text: string) => tok.encode(text, { add_special_tokens: true });
  // The tokenizer's own post-processor says which tokens wrap a text: [start, end] around nothing.
  const empty = encode('');
  if (empty.length !== 2) {
    throw new ModelFolderError(
      `The tokenizer of ${dir} is not a CLIP tokenizer: an empty text gives ${JSON.stringify(empty)}, not [start, end] ` +
        '(its post_processor must add <|startoftext|> and <|endoftext|>).',
    );
  }
  const [bos, eos] = empty as [number, number];
  return { encode, bos, eos, pad: tok.pad_token_id ?? eos };
}

/** The first index of the largest id: the HF text model's legacy pooling (argmax, ties to the first). */
export function poolIndex(ids: number[]): number {
  let best = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i]! > ids[best]!) best = i;
  return best;
}

/**
 * `ids` (start and end included) cut to `context` tokens: `seed` slices [:context] as the seed does (no end token, so
 * the model pools the start token); `eos` keeps context − 1 tokens and appends the end token (open_clip).
 */
export function cutTokens(ids: number[], mode: TruncationMode, context: number, eos: number): ClipTokens {
  const truncated = ids.length > context;
  const cut = !truncated ? ids : mode === 'seed' ? ids.slice(0, context) : [...ids.slice(0, context - 1), eos];
  return { ids: cut, tokens: ids.length, truncated, poolIndex: poolIndex(cut) };
}

/** Rows padded with `pad` to the longest, as the seed's processor(padding=True) does. */
export function padBatch(rows: number[][], pad: number): number[][] {
  const width = Math.max(0, ...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...Array<number>(width - r.length).fill(pad)]);
}
