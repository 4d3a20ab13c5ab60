/**
 * The one interface every model backend implements (OpenAI-compatible HTTP, local onnxruntime, scripted test
 * policies). Backends know nothing about Temporal: they throw the domain errors below, and the activity layer
 * turns them into retry decisions.
 */

/** A prompt as a chat API sees it (system + user message) and as a raw-text model sees it (fully formatted). */
export interface PromptInput {
  /** Optional system message, e.g. the bandit's "You are a {persona}." on Llama-3. */
  system?: string;
  /** The task prompt (persona already substituted), sent as the single user message to chat APIs. */
  user: string;
  /** The prompt rendered in the configured prompt format (plain / llama3 chat / vicuna), for raw-text models. */
  text: string;
  /** Whom the request's API usage is billed to (metrics.json's usage per persona); not sent, not hashed. */
  persona?: string;
}

export interface OptionScoreRequest {
  prompt: PromptInput;
  /** Answer strings whose next-token log-probs are wanted, e.g. ["A","B","C","D"] or ["1","2"]. */
  options: string[];
}

/** How an option-score was obtained, recorded per answer. */
export type ScoreMethod =
  /** full next-token log-softmax from a local model */
  | 'logits'
  /** every option was found in an API's top_logprobs list */
  | 'top_logprobs'
  /** some options were missing from the top list; they were filled by `absentPolicy` */
  | 'top_logprobs_partial';

export interface OptionScore {
  /** log-prob per option (same order as the request); `-Infinity` is not used: absent options follow the policy. */
  logprobs: number[];
  method: ScoreMethod;
  /** Options that were absent from the top list (API backends). */
  absent: string[];
  /** What was done for absent options: 'floor' = set to the smallest log-prob in the top list. */
  absentPolicy?: 'floor';
  /** The text the backend produced alongside (API backends generate one token). */
  raw?: string;
}

export interface GenerateRequest {
  prompt: PromptInput;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
}

export interface GenerateResult {
  text: string;
}

/** Result of one request in a batch: backends never let one failed request hide the others' results. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: BackendError };

export interface Backend {
  /** Stable identifier used in run keys and reports, e.g. "openai:gpt-4o-mini" or "onnx:Llama-3.2-1B". */
  readonly id: string;
  scoreOptions(requests: OptionScoreRequest[], signal?: AbortSignal): Promise<Outcome<OptionScore>[]>;
  generate(requests: GenerateRequest[], signal?: AbortSignal): Promise<Outcome<GenerateResult>[]>;
  /** Cheap request that proves credentials and model name work (fails fast on 401/404). */
  preflight?(signal?: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** Base class of backend failures. `kind` decides retrying; the message is shown to the user. */
export abstract class BackendError extends Error {
  abstract readonly kind: 'rate_limited' | 'transient' | 'fatal';
}

/** HTTP 429 or equivalent: retry no earlier than `retryAfterMs`. */
export class RateLimitedError extends BackendError {
  readonly kind = 'rate_limited' as const;
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
    this.name = 'RateLimitedError';
  }
}

/** 5xx, timeouts, connection resets, malformed bodies: retry with backoff. */
export class TransientBackendError extends BackendError {
  readonly kind = 'transient' as const;
  constructor(message: string) {
    super(message);
    this.name = 'TransientBackendError';
  }
}

/** 4xx other than 429 (bad key, unknown model, bad request): retrying cannot help. */
export class FatalBackendError extends BackendError {
  readonly kind = 'fatal' as const;
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'FatalBackendError';
  }
}
