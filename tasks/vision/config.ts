/**
 * Config schema DRAFT of the vision-language task (zod, strict: unknown keys are errors). Not registered in
 * experiment/schema.ts on purpose: the engine is being changed so that tasks own and register their config; the
 * integrator wires `VisionConfig` in then. Example files: tasks/vision/configs/vl-*.yaml (kept out of configs/ until
 * the registration exists, so nothing that lists configs/ picks them up early).
 *
 * Defaults are the seed's (VISION.md §3–§5): CUB, the 11 personas + `none` + `class_name`, the module template with
 * "If you were a", 45 words, stops Q:/A:, Vicuna sampling T 0.7 / 96 new tokens / top-k 50 / top-p 1.0, seed 2016,
 * one sample per cell, the seed's truncation at 77 tokens, ViT-B/32.
 */
import { z } from 'zod';
import { PROMPT_FORMATS } from '../../prompts/formats.js';
import { ONNX_VARIANTS } from '../../backends/onnx/folder.js';
import { ModelChoice } from '../../experiment/schema.js';
import { checkDescribeTemplate, DEFAULT_PERSONAS, SEED_IMPERSONATION_COMMAND, SEED_N_WORDS, SEED_STOP, SEED_TEMPLATE } from './prompts.js';

const posInt = z.number().int().positive();
const runName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" only').optional();

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

export const ClipModel = z
  .object({
    /** A local folder in the hub's ONNX layout or a hub id (downloaded with progress when online). */
    path: z.string().min(1).default('Xenova/clip-vit-base-patch32'),
    variant: z.enum(ONNX_VARIANTS).default('fp32'),
  })
  .strict();

export const VisionConfig = z
  .object({
    name: runName,
    task: z.literal('vision'),
    data: VisionData,
    personas: z
      .array(z.string().min(1))
      .min(1)
      .default([...DEFAULT_PERSONAS])
      .refine((ps) => new Set(ps).size === ps.length, { message: 'personas must not repeat (each names one row of results)' }),
    template: VisionTemplate.default({ text: SEED_TEMPLATE, impersonation_command: SEED_IMPERSONATION_COMMAND, n_words: SEED_N_WORDS, stop: [...SEED_STOP] }),
    /** vicuna_v1.1 reproduces the seed's Vicuna wrapping, plain its ChatGPT path, chat_template a local instruct model. */
    format: z.enum(PROMPT_FORMATS).default('plain'),
    describe: DescribeSampling.default({ temperature: 0.7, max_tokens: 96, top_k: 50, top_p: 1.0, seed: 2016, replicates: 1 }),
    cleaning: z
      .object({
        /** The seed's extra LLM call per sentence that still names the class; false keeps those sentences as they are. */
        llm: z.boolean().default(true),
      })
      .strict()
      .default({ llm: true }),
    /** seed: cut at 77 without EOS (every cut text collapses to the BOS embedding, faithful); eos: cut to 76 + EOS. */
    truncation: z.enum(['seed', 'eos']).default('seed'),
    clip: ClipModel.default({ path: 'Xenova/clip-vit-base-patch32', variant: 'fp32' }),
    /** The LLM that writes the descriptions (and does the LLM cleaning). */
    llm: ModelChoice,
    statistics: z
      .object({
        seed: z.number().int().default(2016),
        resamples: posInt.default(2000),
        permutations: posInt.default(10000),
      })
      .strict()
      .default({ seed: 2016, resamples: 2000, permutations: 10000 }),
    output: z.object({ dir: z.string().min(1).default('runs') }).strict().default({ dir: 'runs' }),
  })
  .strict();

export type VisionConfigInput = z.input<typeof VisionConfig>;
export type VisionConfigParsed = z.output<typeof VisionConfig>;
