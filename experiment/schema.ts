/**
 * The experiment config: YAML files under configs/, `key=value` overrides, and the JSON input of
 * `temporal workflow start` all share this schema. Unknown keys are errors (typos must not be ignored).
 */
import { z } from 'zod';
import { PROMPT_FORMATS } from '../prompts/formats.js';
import '../backends/index.js';
import { extendedModelOptionsSchema, modelOptionsSchema } from '../backends/catalog.js';
import type { OpenAIModelSpec } from '../backends/openai/options.js';
import type { OnnxModelSpec } from '../backends/onnx/options.js';
import { BudgetConfig } from '../control/budget.js';

const posInt = z.number().int().positive();

/** A persona set: a name of a file in configs/personas, a path to such a YAML file, or an inline set. */
export const PersonaSetRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), personas: z.array(z.string().min(1)).min(1) }).strict(),
]);

/**
 * `chat:` beside `format: chat_template`: the system message per persona ("You are a {persona}."), or `none` for no
 * system message. The persona also stays where the task's template puts it in the user message.
 */
export const ChatConfig = z
  .object({
    system: z.union([z.literal('none'), z.string().min(1)]).optional(),
  })
  .strict();

/** A model block: the union of the registered backends' options (backends/catalog.ts), built when first parsed. */
export const ModelConfig = z.lazy(() => modelOptionsSchema()) as unknown as z.ZodType<OpenAIModelSpec | OnnxModelSpec>;

/** What a candidate adds to a model: a warning to show when it is the one used, and its own prompt format. */
const candidateExtras = {
  /** Shown loudly (console, metrics.json) when this candidate is used, e.g. "random weights: accuracies are noise". */
  warning: z.string().min(1).optional(),
  /** Replaces the experiment's `format` when this candidate is used (a model without a chat template). */
  format: z.enum(PROMPT_FORMATS).optional(),
};
export const ModelCandidate = z.lazy(() => extendedModelOptionsSchema(candidateExtras)) as unknown as z.ZodType<
  (OpenAIModelSpec | OnnxModelSpec) & { warning?: string; format?: (typeof PROMPT_FORMATS)[number] }
>;
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
    /** The model of the task's primary role (its only one for MMLU and the bandit). */
    model: ModelChoice.optional(),
    /** A model per role, e.g. {llm: ..., clip: ...}; `models.<primary role>` is the same as `model`. */
    models: z.record(z.string().min(1), ModelChoice).optional(),
    execution: executionSchema(unitKey, unitDefault),
    output: OutputConfig,
    /** Reached → the run pauses (nothing is lost); `rolyplay resume <run> --budget-…` continues it. */
    budget: BudgetConfig.optional(),
  };
}

/** A resolved model block of a built-in backend (a new backend adds its options type here). */
export type ModelSpec = OpenAIModelSpec | OnnxModelSpec;

/** What the engine reads of any task's parsed config (the rest is the task's). */
export interface CommonConfigParsed {
  task: string;
  name?: string;
  personas: z.output<typeof PersonaSetRef>[];
  format: z.output<ReturnType<typeof commonFields>['format']>;
  chat?: z.output<typeof ChatConfig>;
  model?: z.output<typeof ModelChoice>;
  models?: Record<string, z.output<typeof ModelChoice>>;
  execution: { batches_per_shard: number; shards_in_flight: number; batches_in_flight: number; heartbeat_s: number; task_queue?: string };
  output: { dir: string };
  budget?: z.output<typeof BudgetConfig>;
}
