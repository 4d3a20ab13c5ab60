/**
 * The experiment config: YAML files under configs/, `key=value` overrides, and the JSON input of
 * `temporal workflow start` all share this schema. Unknown keys are errors (typos must not be ignored).
 */
import { z } from 'zod';
import { PROMPT_FORMATS } from '../prompts/formats.js';
import { ONNX_VARIANTS } from '../backends/onnx/folder.js';
import { BudgetConfig } from '../control/budget.js';

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
    /** Tokens (prompt + completion) per minute, shared like `rpm` by every worker using this key and model. */
    tpm: posInt.optional(),
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

const runName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" only')
  .optional();

/** How a run is cut into activities and how much runs at once. `unit` names the batch size key. */
function executionSchema<K extends string>(unitKey: K, unitDefault: number) {
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

/** Keys every task's config has besides its own. */
const commonKeys = {
  /** Reached → the run pauses (nothing is lost); `rolyplay resume <run> --budget-…` continues it. */
  budget: BudgetConfig.optional(),
};

const OutputConfig = z.object({ dir: z.string().min(1).default('runs') }).strict().default({ dir: 'runs' });

export const MmluConfig = z
  .object({
    name: runName,
    task: z.literal('mmlu'),
    data: z
      .object({
        path: z.string().min(1),
        split: z.enum(['test', 'val', 'dev']).default('test'),
        subjects: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
        /** Use only the first N questions of each subject (file order). */
        limit: posInt.optional(),
        /** When `path` does not exist: download the Hendrycks tarball into the cache (online) and use that. */
        download: z.boolean().default(true),
      })
      .strict(),
    personas: z.array(PersonaSetRef).min(1),
    /** Persona groups for the expert analysis (besides the experts, which are derived from the subjects). */
    groups: z.object({ neutral: z.array(PersonaSetRef).default([]) }).strict().default({ neutral: [] }),
    template: TemplateRef.default('mmlu_paper'),
    format: z.enum(PROMPT_FORMATS).default('plain'),
    chat: ChatConfig.optional(),
    scoring: z
      .object({
        /** logits | generate (the seed's API path) | generate_fork (the fork's late rule: one generation, its letters
         * upper-cased; anything but A-D counts as "C" and as invalid; accuracy over all items). */
        mode: z.enum(['logits', 'generate', 'generate_fork']).default('logits'),
        /** generate mode: re-ask up to this many more times until the answer is exactly one of A-D. */
        max_tries: z.number().int().min(0).default(10),
        max_tokens: posInt.optional(),
        temperature: z.number().min(0).optional(),
        top_p: z.number().gt(0).max(1).optional(),
        top_k: posInt.optional(),
        /** Sampling seed (local models; API servers that accept `seed`). */
        seed: z.number().int().optional(),
      })
      .strict()
      .default({ mode: 'logits', max_tries: 10 }),
    model: ModelChoice,
    execution: executionSchema('questions_per_batch', 128),
    output: OutputConfig,
    ...commonKeys,
  })
  .strict();

export type MmluConfigInput = z.input<typeof MmluConfig>;
export type MmluConfigParsed = z.output<typeof MmluConfig>;
export type ModelSpec = z.output<typeof ModelConfig>;

/** The two-armed bandit (SPEC §3): age personas play games of `trials` choices between two slot machines. */
export const BanditConfig = z
  .object({
    name: runName,
    task: z.literal('bandit'),
    /** Games per persona (the seed plays 2000). */
    games: posInt.default(100),
    trials: posInt.default(10),
    /** Run seed: every persona × game draws its bandit and its choices from its own stream of it. */
    seed: z.union([z.number().int(), z.string().min(1)]).default(2016),
    /** faithful: a fresh bandit per persona and game, as the seed; paired: all personas play the same bandits. */
    design: z.enum(['faithful', 'paired']).default('faithful'),
    personas: z.array(PersonaSetRef).min(1).default(['ages']),
    format: z.enum(PROMPT_FORMATS).default('plain'),
    chat: ChatConfig.optional(),
    scoring: z
      .object({
        /** logits: sample from softmax(log-probs of "1"/"2" / temperature); generate: exact "1" or "2" only. */
        mode: z.enum(['logits', 'generate']).default('logits'),
        temperature: z.number().min(0).default(1),
        /** generate: tries per trial before the game is abandoned. */
        max_tries: posInt.default(20),
      })
      .strict()
      .default({ mode: 'logits', temperature: 1, max_tries: 20 }),
    metrics: z
      .object({ acc_last: z.enum(['faithful', 'intended']).default('faithful') })
      .strict()
      .default({ acc_last: 'faithful' }),
    model: ModelChoice,
    execution: executionSchema('games_per_batch', 10),
    output: OutputConfig,
    ...commonKeys,
  })
  .strict();

export type BanditConfigParsed = z.output<typeof BanditConfig>;

/** Top-level dispatch on `task`; new tasks add their schema here. */
export const ExperimentConfig = z.discriminatedUnion('task', [MmluConfig, BanditConfig]);
export type ExperimentConfigParsed = z.output<typeof ExperimentConfig>;
