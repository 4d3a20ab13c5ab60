/**
 * The experiment config: YAML files under configs/, `key=value` overrides, and the JSON input of
 * `temporal workflow start` all share this schema. Unknown keys are errors (typos must not be ignored).
 */
import { z } from 'zod';
import { PROMPT_FORMATS } from '../prompts/formats.js';

const posInt = z.number().int().positive();

/** A persona set: a name of a file in configs/personas, a path to such a YAML file, or an inline set. */
export const PersonaSetRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), personas: z.array(z.string().min(1)).min(1) }).strict(),
]);

export const TemplateRef = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1).default('inline'),
      text: z.string().min(1),
      no_persona: z.string().min(1).optional(),
      separator: z.string().default(': '),
    })
    .strict(),
]);

export const OpenAIModel = z
  .object({
    backend: z.literal('openai'),
    model: z.string().min(1),
    /** Defaults to OPENAI_BASE_URL, then https://api.openai.com/v1. */
    base_url: z.string().url().optional(),
    /** The key is read from this environment variable by the worker; it never enters workflow inputs. */
    api_key_env: z.string().min(1).default('OPENAI_API_KEY'),
    concurrency: posInt.default(8),
    rpm: posInt.default(3500),
    timeout_s: z.number().positive().default(60),
    top_logprobs: z.number().int().min(1).max(20).default(20),
  })
  .strict();

export const OnnxModel = z
  .object({
    backend: z.literal('onnx'),
    /** A local model folder (Hugging Face ONNX layout) or a hub id such as onnx-community/Llama-3.2-1B-Instruct. */
    path: z.string().min(1),
    variant: z.enum(['fp32', 'fp16', 'int8', 'q4']).default('fp32'),
    providers: z.array(z.enum(['cpu', 'cuda'])).min(1).default(['cpu']),
    max_batch: posInt.default(64),
  })
  .strict();

export const ModelConfig = z.discriminatedUnion('backend', [OpenAIModel, OnnxModel]);

export const MmluConfig = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" only')
      .optional(),
    task: z.literal('mmlu'),
    data: z
      .object({
        path: z.string().min(1),
        split: z.enum(['test', 'val', 'dev']).default('test'),
        subjects: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
        /** Use only the first N questions of each subject (file order). */
        limit: posInt.optional(),
      })
      .strict(),
    personas: z.array(PersonaSetRef).min(1),
    /** Persona groups for the expert analysis (besides the experts, which are derived from the subjects). */
    groups: z.object({ neutral: z.array(PersonaSetRef).default([]) }).strict().default({ neutral: [] }),
    template: TemplateRef.default('mmlu_paper'),
    format: z.enum(PROMPT_FORMATS).default('plain'),
    scoring: z
      .object({
        mode: z.enum(['logits', 'generate']).default('logits'),
        /** generate mode: re-ask up to this many more times until the answer is exactly one of A-D. */
        max_tries: z.number().int().min(0).default(10),
        max_tokens: posInt.optional(),
        temperature: z.number().min(0).optional(),
      })
      .strict()
      .default({ mode: 'logits', max_tries: 10 }),
    model: ModelConfig,
    execution: z
      .object({
        questions_per_batch: posInt.default(64),
        batches_per_shard: posInt.default(16),
        shards_in_flight: posInt.default(4),
        batches_in_flight: posInt.default(2),
        /** A batch that stops heartbeating this long (worker crash) is retried on another worker. Default 30 s for
         * API models, 300 s for local ones (an onnxruntime forward pass holds the event loop, heartbeats included). */
        heartbeat_s: z.number().positive().optional(),
        /** Task queue of the batch activities; defaults to rolyplay-llm-local for onnx models, else rolyplay. */
        task_queue: z.string().min(1).optional(),
      })
      .strict()
      .default({ questions_per_batch: 64, batches_per_shard: 16, shards_in_flight: 4, batches_in_flight: 2 }),
    output: z.object({ dir: z.string().min(1).default('runs') }).strict().default({ dir: 'runs' }),
  })
  .strict();

export type MmluConfigInput = z.input<typeof MmluConfig>;
export type MmluConfigParsed = z.output<typeof MmluConfig>;
export type ModelSpec = z.output<typeof ModelConfig>;

/** Top-level dispatch on `task`; new tasks add their schema here. */
export const ExperimentConfig = z.discriminatedUnion('task', [MmluConfig]);
export type ExperimentConfigParsed = z.output<typeof ExperimentConfig>;
