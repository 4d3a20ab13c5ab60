/**
 * The experiment config: YAML files under configs/, `key=value` overrides, and the JSON input of
 * `temporal workflow start` all share this schema. Unknown keys are errors (typos must not be ignored).
 */
import { z } from 'zod';
import { PROMPT_FORMATS } from '../prompts/formats.js';
import { ONNX_VARIANTS } from '../backends/onnx/folder.js';

const posInt = z.number().int().positive();

/** A persona set: a name of a file in configs/personas, a path to such a YAML file, or an inline set. */
export const PersonaSetRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), personas: z.array(z.string().min(1)).min(1) }).strict(),
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
    variant: z.enum(ONNX_VARIANTS).default('fp32'),
    providers: z.array(z.enum(['cpu', 'cuda'])).min(1).default(['cpu']),
    max_batch: posInt.default(64),
  })
  .strict();

/**
 * `chat:` beside `format: chat_template`: the system message per persona ("You are a {persona}."), or `none` for no
 * system message. The persona also stays where the task's template puts it in the user message.
 */
export const ChatConfig = z
  .object({
    system: z.union([z.literal('none'), z.string().min(1)]).optional(),
  })
  .strict();

export const ModelConfig = z.discriminatedUnion('backend', [OpenAIModel, OnnxModel]);

/** What a candidate adds to a model: a warning to show when it is the one used, and its own prompt format. */
const candidateExtras = {
  /** Shown loudly (console, metrics.json) when this candidate is used, e.g. "random weights: accuracies are noise". */
  warning: z.string().min(1).optional(),
  /** Replaces the experiment's `format` when this candidate is used (a model without a chat template). */
  format: z.enum(PROMPT_FORMATS).optional(),
};
export const ModelCandidate = z.discriminatedUnion('backend', [OpenAIModel.extend(candidateExtras), OnnxModel.extend(candidateExtras)]);
export type ModelCandidateParsed = z.output<typeof ModelCandidate>;

/**
 * `model:` of an experiment: one model, a fallback list (the first usable one runs: a local folder that exists, a
 * hub id already in the cache or downloadable now, an API model), or the name of such a file in configs/models.
 */
export const ModelChoice = z.union([
  z.string().min(1),
  ModelConfig,
  z.object({ candidates: z.array(ModelCandidate).min(1) }).strict(),
]);

export const runName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" only')
  .optional();

/** How a run is cut into activities and how much runs at once. `unit` names the batch size key. */
export function executionSchema<K extends string>(unitKey: K, unitDefault: number) {
  const defaults = { [unitKey]: unitDefault, batches_per_shard: 16, shards_in_flight: 4, batches_in_flight: 2, heartbeat_s: 30 } as Record<K, number> & {
    batches_per_shard: number;
    shards_in_flight: number;
    batches_in_flight: number;
    heartbeat_s: number;
  };
  return z
    .object({
      ...({ [unitKey]: posInt.default(unitDefault) } as Record<K, z.ZodDefault<typeof posInt>>),
      batches_per_shard: posInt.default(16),
      shards_in_flight: posInt.default(4),
      batches_in_flight: posInt.default(2),
      /** A batch that stops heartbeating this long (worker crash) is retried on another worker. */
      heartbeat_s: z.number().positive().default(30),
      /** Task queue of the batch activities; defaults to rolyplay-llm-local for onnx models, else rolyplay. */
      task_queue: z.string().min(1).optional(),
    })
    .strict()
    .default(defaults as never);
}

export const OutputConfig = z.object({ dir: z.string().min(1).default('runs') }).strict().default({ dir: 'runs' });

/** The keys every task's config has, with their defaults (a task's schema spreads them: `...commonFields(...)`). */
export function commonFields<K extends string>(unitKey: K, unitDefault: number) {
  return {
    name: runName,
    personas: z.array(PersonaSetRef).min(1),
    format: z.enum(PROMPT_FORMATS).default('plain'),
    chat: ChatConfig.optional(),
    model: ModelChoice,
    execution: executionSchema(unitKey, unitDefault),
    output: OutputConfig,
  };
}

export type ModelSpec = z.output<typeof ModelConfig>;

/** What the engine reads of any task's parsed config (the rest is the task's). */
export interface CommonConfigParsed {
  task: string;
  name?: string;
  personas: z.output<typeof PersonaSetRef>[];
  format: z.output<ReturnType<typeof commonFields>['format']>;
  chat?: z.output<typeof ChatConfig>;
  model: z.output<typeof ModelChoice>;
  execution: { batches_per_shard: number; shards_in_flight: number; batches_in_flight: number; heartbeat_s: number; task_queue?: string };
  output: { dir: string };
}
