/**
 * Config of the vision-language task (zod, strict: unknown keys are errors), registered by tasks/vision/task.ts, and
 * how it resolves into a `VisionSpec`. Example files: configs/vl-{demo,cub,cars}.yaml. Models by role:
 * `models: {llm: <Generator>, clip: <TextEmbedder & ImageEmbedder>}` (`model:` is the llm's).
 *
 * Defaults are the seed's (VISION.md §3–§5): CUB, the 11 personas + `none` + `class_name`, the module template with
 * "If you were a", 45 words, stops Q:/A:, Vicuna sampling T 0.7 / 96 new tokens / top-k 50 / top-p 1.0, seed 2016,
 * one sample per cell, the seed's truncation at 77 tokens, ViT-B/32.
 */
import { z } from 'zod';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { commonFields } from '../../experiment/schema.js';
import type { CommonSpec, ResolveContext } from '../../experiment/load.js';
import { TRUNCATION_MODES, type TruncationMode } from '../../backends/capabilities.js';
import type { VisionDataSpec } from './data.js';
import { checkDescribeTemplate, DEFAULT_PERSONAS, SEED_IMPERSONATION_COMMAND, SEED_N_WORDS, SEED_STOP, SEED_TEMPLATE } from './prompts.js';

const posInt = z.number().int().positive();
const common = commonFields('cells_per_batch', 8);

const CubData = z
  .object({
    dataset: z.literal('cub'),
    /** The folder holding CUB_200_2011/ (or CUB_200_2011 itself). */
    path: z.string().min(1),
    /** Scored split; descriptions are made for the train split's class names, checked equal (the seed's rule). */
    split: z.enum(['test', 'train']).default('test'),
  })
  .strict();

const HfData = z
  .object({
    /** cars: Multimodal-Fatima/StanfordCars_{test,train}; aircraft: Multimodal-Fatima/FGVC_Aircraft_{test,train}, bottom 20 px cropped. */
    dataset: z.enum(['cars', 'aircraft']),
    /** A folder with test/ (and train/) parquet files; absent: the hub's files, downloaded into the cache. */
    path: z.string().min(1).optional(),
    /** Download from the hub when the cache lacks the files (online). */
    download: z.boolean().default(true),
    /** train: the seed's rule (downloads the train split only for its class names); test: skip that download. */
    names_from: z.enum(['train', 'test']).default('train'),
  })
  .strict();

const FolderData = z
  .object({
    dataset: z.literal('folder'),
    /** `<path>/<class>/<image>`: class = folder name, classes sorted. */
    path: z.string().min(1),
  })
  .strict();

export const VisionData = z.discriminatedUnion('dataset', [CubData, HfData, FolderData]);

export const VisionTemplate = z
  .object({
    text: z.string().min(1).default(SEED_TEMPLATE),
    impersonation_command: z.string().min(1).default(SEED_IMPERSONATION_COMMAND),
    n_words: posInt.default(SEED_N_WORDS),
    /** Description stops, split unanchored and case-sensitive as the seed's langchain `enforce_stop_tokens`. */
    stop: z.array(z.string().min(1)).default([...SEED_STOP]),
  })
  .strict()
  .superRefine((t, ctx) => {
    try {
      checkDescribeTemplate({ text: t.text, impersonationCommand: t.impersonation_command, nWords: t.n_words });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

export const DescribeSampling = z
  .object({
    temperature: z.number().min(0).default(0.7),
    max_tokens: posInt.default(96),
    top_k: posInt.default(50),
    top_p: z.number().gt(0).max(1).default(1.0),
    /** Run seed of the per-cell seeds (tasks/vision/seeds.ts). */
    seed: z.number().int().default(2016),
    /** Samples per persona × class: 1 is the seed (faithful); ≥ 3 for a variance estimate. */
    replicates: posInt.default(1),
  })
  .strict();

export const VisionConfig = z
  .object({
    name: common.name,
    task: z.literal('vision'),
    data: VisionData,
    /** Persona sets (configs/personas/vision-seed.yaml: the seed's 11 + `none` + `class_name`, the default). */
    personas: common.personas.default([{ name: 'vision-seed', personas: [...DEFAULT_PERSONAS] }]),
    template: VisionTemplate.default({ text: SEED_TEMPLATE, impersonation_command: SEED_IMPERSONATION_COMMAND, n_words: SEED_N_WORDS, stop: [...SEED_STOP] }),
    /** vicuna_v1.1 reproduces the seed's Vicuna wrapping, plain its ChatGPT path, chat_template a local instruct model. */
    format: common.format,
    chat: common.chat,
    describe: DescribeSampling.default({ temperature: 0.7, max_tokens: 96, top_k: 50, top_p: 1.0, seed: 2016, replicates: 1 }),
    cleaning: z
      .object({
        /** The seed's extra LLM call per sentence that still names the class; false keeps those sentences as they are. */
        llm: z.boolean().default(true),
      })
      .strict()
      .default({ llm: true }),
    /** seed: cut at 77 without EOS (every cut text collapses to the BOS embedding, faithful); eos: cut to 76 + EOS. */
    truncation: z.enum(TRUNCATION_MODES).default('seed'),
    /** `llm`: the Generator that writes (and cleans) the descriptions; `clip`: the TextEmbedder & ImageEmbedder. */
    model: common.model,
    models: common.models,
    statistics: z
      .object({
        seed: z.number().int().default(2016),
        resamples: posInt.default(2000),
        permutations: posInt.default(10000),
      })
      .strict()
      .default({ seed: 2016, resamples: 2000, permutations: 10000 }),
    /** Texts and images per embedding batch (activity); not part of the results. */
    embedding: z
      .object({ texts_per_batch: posInt.default(64), images_per_batch: posInt.default(32) })
      .strict()
      .default({ texts_per_batch: 64, images_per_batch: 32 }),
    /**
     * The caches shared across runs (image embeddings, LLM calls); default $ROLYPLAY_VISION_CACHE or
     * ~/.cache/rolyplaying/vision. Not part of the results.
     */
    cache_dir: z.string().min(1).optional(),
    execution: common.execution,
    output: common.output,
    budget: common.budget,
  })
  .strict();

export type VisionConfigInput = z.input<typeof VisionConfig>;
export type VisionConfigParsed = z.output<typeof VisionConfig>;

export interface VisionSpec extends CommonSpec {
  task: 'vision';
  /** Paths absolute. */
  data: VisionDataSpec;
  template: { text: string; impersonationCommand: string; nWords: number };
  stop: string[];
  describe: { temperature: number; maxTokens: number; topK: number; topP: number; seed: number; replicates: number };
  cleaningLlm: boolean;
  truncation: TruncationMode;
  statistics: { seed: number; resamples: number; permutations: number };
  /** Not hashed: batching and where the shared caches live. */
  embedding: { textsPerBatch: number; imagesPerBatch: number };
  cacheDir: string;
}

export function defaultVisionCacheDir(): string {
  return process.env.ROLYPLAY_VISION_CACHE ?? join(homedir(), '.cache', 'rolyplaying', 'vision');
}

export function resolveVision(cfg: VisionConfigParsed, ctx: ResolveContext): VisionSpec {
  const data = (cfg.data.path !== undefined ? { ...cfg.data, path: ctx.abs(cfg.data.path) } : cfg.data) as VisionDataSpec;
  const results = {
    data,
    template: { text: cfg.template.text, impersonationCommand: cfg.template.impersonation_command, nWords: cfg.template.n_words },
    stop: cfg.template.stop,
    describe: {
      temperature: cfg.describe.temperature,
      maxTokens: cfg.describe.max_tokens,
      topK: cfg.describe.top_k,
      topP: cfg.describe.top_p,
      seed: cfg.describe.seed,
      replicates: cfg.describe.replicates,
    },
    cleaningLlm: cfg.cleaning.llm,
    truncation: cfg.truncation,
    statistics: cfg.statistics,
  };
  // The seed wraps the description prompt as one user turn (no persona system message).
  const common = ctx.common(cfg, results, { unitsPerBatch: cfg.execution.cells_per_batch, defaultSystem: null });
  return {
    ...common,
    ...results,
    task: 'vision',
    embedding: { textsPerBatch: cfg.embedding.texts_per_batch, imagesPerBatch: cfg.embedding.images_per_batch },
    cacheDir: cfg.cache_dir ? ctx.abs(cfg.cache_dir) : defaultVisionCacheDir(),
  };
}
