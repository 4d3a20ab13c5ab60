/**
 * What a model can do, one interface per capability. A backend implements the ones it can: an LLM backend
 * (`Backend` in types.ts) scores options and generates; a CLIP backend embeds texts and images. Tasks ask a run's
 * model role for the capability they need, so a vision run can pair an LLM (describe) with CLIP (embed, score).
 * Plain TypeScript: no Temporal here.
 */
import type { GenerateRequest, GenerateResult, OptionScore, OptionScoreRequest, Outcome } from './types.js';

export interface OptionScorer {
  readonly id: string;
  scoreOptions(requests: OptionScoreRequest[], signal?: AbortSignal): Promise<Outcome<OptionScore>[]>;
}

export interface Generator {
  readonly id: string;
  generate(requests: GenerateRequest[], signal?: AbortSignal): Promise<Outcome<GenerateResult>[]>;
}

/** A decoded image: 8-bit RGB, row-major, `width × height × 3` bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * How a text longer than the model's context (CLIP: 77 tokens) is embedded. `seed`: the seed's slice to 77 with no
 * end token, which pools the start token (every cut text gets the same embedding); `eos`: cut to 76 and append the
 * end token (open_clip). Either way the embedding says whether the text was cut.
 */
export const TRUNCATION_MODES = ['seed', 'eos'] as const;
export type TruncationMode = (typeof TRUNCATION_MODES)[number];

export interface TextEmbedding {
  /** L2-normalised projection. */
  vector: Float32Array;
  /** Token ids before any cut, start and end tokens included. */
  tokens: number;
  truncated: boolean;
}

export interface TextEmbedder {
  readonly id: string;
  embedTexts(texts: string[], opts: { truncation: TruncationMode }, signal?: AbortSignal): Promise<TextEmbedding[]>;
}

export interface ImageEmbedder {
  readonly id: string;
  /** Names the preprocessing (size, resample, mean/std): part of the image-embedding cache key. */
  readonly preprocessVersion: string;
  /** L2-normalised projections, one per image. */
  embedImages(images: RgbImage[], signal?: AbortSignal): Promise<Float32Array[]>;
}
