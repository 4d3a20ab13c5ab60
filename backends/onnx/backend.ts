/**
 * Local inference with onnxruntime-node behind the `Backend` interface. `prompt.text` is already rendered in the
 * configured format and tokenized like HF (add_special_tokens=true); with format chat_template the model's own
 * template renders `prompt.system`/`prompt.user` instead (see tokens.ts). Prompts are scored in batches with shared-prefix reuse,
 * and option log-probs come from the full next-token log-softmax (method 'logits').
 *
 * Calls are not serialised here: every backend of one model shares its session and its `lastPrefix` cache, so at
 * most one call may run at a time per model. Workers get that from the model thread's queue (thread.ts, the one
 * place that serialises local-model work); direct in-process use (tests, bench) must await each call before the next.
 */
import path from 'node:path';
import {
  BackendError,
  FatalBackendError,
  type Backend,
  type GenerateRequest,
  type GenerateResult,
  type OptionScore,
  type OptionScoreRequest,
  type Outcome,
} from '../types.js';
import type { PromptFormat } from '../../prompts/formats.js';
import type { OnnxVariant } from './folder.js';
import { generateTokens, type GenerateParams } from './generate.js';
import { loadLocalModel, type ExecutionProvider, type LocalModel } from './model.js';
import { ONNX_DEFAULTS } from './options.js';
import { logSumExp, nextTokenLogits } from './scoring.js';
import { answerTokens, checkFormat, formatStopIds, promptTokens, type AnswerTokens } from './tokens.js';

export interface LocalOnnxOptions {
  /** Local model folder (Hugging Face ONNX layout) or hub id. */
  path: string;
  variant?: OnnxVariant;
  executionProviders?: ExecutionProvider[];
  /** The format `prompt.text` was rendered in (checked against the tokenizer; sets the stop tokens). */
  format: PromptFormat;
  /** Most prompts per forward pass (default: the `max_batch` default of options.ts). */
  maxBatch?: number;
  /** Run the common token prefix of a batch once (default true). */
  prefixReuse?: boolean;
  /**
   * Most new tokens (rows x padded length) per forward pass (default 2048). onnxruntime-node runs a pass
   * synchronously on the main thread, so this also bounds how long timers (activity heartbeats) are blocked.
   */
  maxBatchTokens?: number;
  /** Run a shared prefix's suffixes as one sequence where the graph allows (default true; scoring.ts). */
  packing?: boolean;
  /** Patch the graph for packing at load (default true; false: the export's graph, for tests and the bench). */
  patchGraph?: boolean;
  /** Where hub ids are downloaded to. */
  cacheDir?: string;
}

/** The seed's `generate` default (SPEC §1.2); the fork used 1024. */
const DEFAULT_MAX_NEW_TOKENS = 96;
/** HF `generate`'s top_k default when the checkpoint's generation_config.json sets none. */
const HF_DEFAULT_TOP_K = 50;

export class LocalOnnxBackend implements Backend {
  readonly id: string;
  /** With the defaults of options.ts (the `model:` schema) filled in. */
  readonly options: LocalOnnxOptions & Required<Pick<LocalOnnxOptions, 'variant' | 'executionProviders' | 'maxBatch'>>;
  private ready?: Promise<LocalModel>;
  private readonly answers = new Map<string, AnswerTokens>();

  constructor(options: LocalOnnxOptions) {
    this.options = {
      ...options,
      variant: options.variant ?? ONNX_DEFAULTS.variant,
      executionProviders: options.executionProviders ?? [...ONNX_DEFAULTS.providers],
      maxBatch: options.maxBatch ?? ONNX_DEFAULTS.maxBatch,
    };
    this.id = `onnx:${path.basename(options.path)}:${this.options.variant}`;
  }

  /** From an experiment's `model:` block (backend: onnx); loads eagerly so a bad folder fails here. */
  static async load(spec: {
    path: string;
    variant?: OnnxVariant;
    providers?: ExecutionProvider[];
    max_batch?: number;
    format?: PromptFormat;
  }): Promise<LocalOnnxBackend> {
    const backend = new LocalOnnxBackend({
      path: spec.path,
      variant: spec.variant,
      executionProviders: spec.providers,
      maxBatch: spec.max_batch,
      format: spec.format ?? 'plain',
    });
    await backend.preflight();
    return backend;
  }

  /** Loads (once per process, shared by every backend with the same path/variant/providers) and checks the model. */
  model(): Promise<LocalModel> {
    this.ready ??= loadLocalModel(this.options).then((m) => {
      checkFormat(m.tokenizer, this.options.format, m.dir);
      return m;
    });
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  async preflight(): Promise<void> {
    await this.model();
  }

  /** Failures of the whole call (model cannot load, onnxruntime error, abort) throw; bad requests fail alone. */
  async scoreOptions(requests: OptionScoreRequest[], signal?: AbortSignal): Promise<Outcome<OptionScore>[]> {
    const model = await this.model();
    const outcomes = new Array<Outcome<OptionScore>>(requests.length);
    const jobs: { index: number; tokens: number[]; answer: AnswerTokens }[] = [];
    requests.forEach((req, index) => {
      try {
        const answer = this.answerTokens(model, req.options);
        const tokens = [...promptTokens(model.tokenizer, this.options.format, req.prompt), ...answer.postfix];
        checkLength(model, tokens);
        jobs.push({ index, tokens, answer });
      } catch (e) {
        outcomes[index] = failure(e);
      }
    });
    const logits = await nextTokenLogits(
      model,
      jobs.map((j) => j.tokens),
      {
        maxBatch: this.options.maxBatch,
        prefixReuse: this.options.prefixReuse ?? true,
        maxBatchTokens: this.options.maxBatchTokens,
        packing: this.options.packing ?? true,
        signal,
      },
    );
    jobs.forEach((job, k) => {
      const row = logits[k]!;
      const lse = logSumExp(row);
      const logprobs = job.answer.ids.map((id) => row[id]! - lse);
      outcomes[job.index] = logprobs.every(Number.isFinite)
        ? { ok: true, value: { logprobs, method: 'logits', absent: [] } }
        : failure(new FatalBackendError(`non-finite log-probs ${JSON.stringify(logprobs)} from ${model.onnxFile}`));
    });
    return outcomes;
  }

  async generate(requests: GenerateRequest[], signal?: AbortSignal): Promise<Outcome<GenerateResult>[]> {
    const model = await this.model();
    const outcomes = new Array<Outcome<GenerateResult>>(requests.length);
    const jobs: { index: number; tokens: number[]; params: GenerateParams }[] = [];
    requests.forEach((req, index) => {
      try {
        const tokens = promptTokens(model.tokenizer, this.options.format, req.prompt);
        const params = generateParams(model, req);
        checkLength(model, tokens, params.maxNewTokens);
        jobs.push({ index, tokens, params });
      } catch (e) {
        outcomes[index] = failure(e);
      }
    });
    const stopIds = [...model.generation.eosTokenIds, ...formatStopIds(model.tokenizer, this.options.format)];
    const results = await generateTokens(
      model,
      jobs.map((j) => j.tokens),
      jobs.map((j) => j.params),
      { maxBatch: this.options.maxBatch, stopIds, signal },
    );
    jobs.forEach((job, k) => (outcomes[job.index] = { ok: true, value: { text: results[k]!.text } }));
    return outcomes;
  }

  private answerTokens(model: LocalModel, options: string[]): AnswerTokens {
    const key = JSON.stringify(options);
    let answer = this.answers.get(key);
    if (!answer) this.answers.set(key, (answer = answerTokens(model.tokenizer, options)));
    return answer;
  }
}

/**
 * Request values win; otherwise the checkpoint's generation_config.json and HF's defaults apply, as in the seed
 * (`do_sample` false there means greedy).
 */
function generateParams(model: LocalModel, req: GenerateRequest): GenerateParams {
  const g = model.generation;
  return {
    temperature: req.temperature ?? (g.doSample ? (g.temperature ?? 1) : 0),
    topK: req.topK ?? g.topK ?? HF_DEFAULT_TOP_K,
    topP: req.topP ?? g.topP ?? 1,
    seed: req.seed,
    maxNewTokens: req.maxTokens ?? DEFAULT_MAX_NEW_TOKENS,
    stop: req.stop ?? [],
  };
}

function checkLength(model: LocalModel, tokens: number[], extra = 0): void {
  if (tokens.length + extra > model.maxPositions) {
    throw new FatalBackendError(
      `prompt of ${tokens.length} tokens (+${extra} new) exceeds the model's ${model.maxPositions} positions`,
    );
  }
}

function failure(e: unknown): { ok: false; error: BackendError } {
  const error = e instanceof BackendError ? e : new FatalBackendError(e instanceof Error ? e.message : String(e));
  return { ok: false, error };
}
