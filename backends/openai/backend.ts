/**
 * Backend for OpenAI-compatible chat completion servers (OpenAI, vLLM, llama.cpp server, ...), SPEC §1.4 / §2.
 *
 * The SDK's own retries are off (`maxRetries: 0`): retrying belongs to Temporal, which decides from the error kind
 * that `classifyError` assigns. Every request of a batch goes through the per-backend limiter.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { z } from 'zod';
import { OpenAIModel } from './options.js';
import { RequestLimiter } from '../limiter.js';
import { RunPausedError, type RequestGate } from '../../control/gate.js';
import { chatMessages } from '../../prompts/formats.js';
import {
  BackendError,
  FatalBackendError,
  RateLimitedError,
  TransientBackendError,
  type Backend,
  type GenerateRequest,
  type GenerateResult,
  type OptionScore,
  type OptionScoreRequest,
  type Outcome,
  type PromptInput,
} from '../types.js';

export interface OpenAIBackendOptions {
  /** e.g. "https://api.openai.com/v1" or "http://localhost:8000/v1" */
  baseURL: string;
  model: string;
  apiKey: string;
  /** Max requests in flight. */
  concurrency: number;
  /** Max request starts per minute (spread evenly). */
  rpm: number;
  /** Per-request timeout in ms (integer), up to the response headers. */
  timeoutMs: number;
  /** `top_logprobs` asked for when scoring options (OpenAI allows at most 20); default: options.ts `top_logprobs`. */
  topLogprobs?: number;
  /** Default temperature: scoring uses it (else 0); generation uses it when the request sets none. */
  temperature?: number;
  /** Default `max_tokens` for generation when the request sets none. */
  maxTokens?: number;
  /** Extra body fields for servers with extensions (e.g. vLLM `top_k`); they cannot override fields set here. */
  extraBody?: Record<string, unknown>;
}

/** What an error message needs to say where it happened, and the secret it must never contain. */
export interface ErrorContext {
  baseURL: string;
  model: string;
  apiKey?: string;
  timeoutMs?: number;
}

export const DEFAULT_RETRY_AFTER_MS = 10_000;
/** The schema's default: one place for the value (direct construction, as in tests, leaves it out). */
const DEFAULT_TOP_LOGPROBS = OpenAIModel.shape.top_logprobs.parse(undefined);

export class OpenAIBackend implements Backend {
  readonly id: string;
  private readonly client: OpenAI;
  private readonly limiter: RequestLimiter;
  private readonly ctx: ErrorContext;
  /** Set on views made by `withGate`: every request takes a permit of the fleet-wide bucket and reports its usage. */
  private gate?: RequestGate;

  constructor(private readonly opts: OpenAIBackendOptions) {
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${opts.timeoutMs}`);
    }
    this.id = `openai:${opts.model}@${new URL(opts.baseURL).host}`;
    this.ctx = { baseURL: opts.baseURL, model: opts.model, apiKey: opts.apiKey, timeoutMs: opts.timeoutMs };
    this.client = new OpenAI({
      baseURL: opts.baseURL,
      apiKey: opts.apiKey,
      maxRetries: 0,
      timeout: opts.timeoutMs,
    });
    this.limiter = new RequestLimiter({ concurrency: opts.concurrency, rpm: opts.rpm });
  }

  scoreOptions(requests: OptionScoreRequest[], signal?: AbortSignal): Promise<Outcome<OptionScore>[]> {
    return this.batch(requests, (r, meta) => this.scoreOne(r, signal, meta), signal);
  }

  generate(requests: GenerateRequest[], signal?: AbortSignal): Promise<Outcome<GenerateResult>[]> {
    return this.batch(requests, (r, meta) => this.generateOne(r, signal, meta), signal);
  }

  /** Bucket identity: what the fleet-wide limit is keyed by (hashed by the gate; never stored as is). */
  get rateIdentity(): { baseURL: string; apiKey: string; model: string } {
    return { baseURL: this.opts.baseURL, apiKey: this.opts.apiKey, model: this.opts.model };
  }

  /** This backend (same client and process limiter) with every request going through `gate`. */
  withGate(gate: RequestGate): OpenAIBackend {
    const view = Object.create(this) as OpenAIBackend;
    view.gate = gate;
    return view;
  }

  async preflight(signal?: AbortSignal): Promise<void> {
    try {
      const body = await this.limiter.run(
        () => this.chat({ messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, signal),
        signal,
      );
      firstChoice(body, this.ctx);
    } catch (err) {
      signal?.throwIfAborted();
      const e = classifyError(err, this.ctx);
      // Unreachable or failing server: say what to check, since planning gives up after a few attempts.
      if (e instanceof TransientBackendError) {
        throw new TransientBackendError(
          `${e.message}. Fix: start the server, or point model.base_url (or $OPENAI_BASE_URL) at the address it listens on`,
        );
      }
      throw e;
    }
  }

  close(): Promise<void> {
    return this.limiter.close();
  }

  private async batch<R extends { prompt: PromptInput }, T>(
    requests: R[],
    one: (r: R, meta: CallMeta) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<Outcome<T>[]> {
    const outcomes = await Promise.all(
      requests.map((r) =>
        this.limiter.run(() => this.gated(r, one, signal), signal).then(
          (value): Outcome<T> => ({ ok: true, value }),
          (err: unknown): Outcome<T> => ({ ok: false, error: classifyError(err, this.ctx) }),
        ),
      ),
    );
    // Cancellation is not a failure of individual requests: the caller asked to stop, so the whole call rejects.
    signal?.throwIfAborted();
    return outcomes;
  }

  /** One request through the gate (if any): a permit first, then its usage, headers and 429s reported back. */
  private async gated<R extends { prompt: PromptInput }, T>(r: R, one: (r: R, meta: CallMeta) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const meta: CallMeta = {};
    const gate = this.gate;
    if (!gate) return one(r, meta);
    await gate.acquire(signal);
    try {
      const value = await one(r, meta);
      gate.done({ persona: r.prompt.persona, sent: true, headers: meta.headers, usage: meta.usage });
      return value;
    } catch (err) {
      const api = err instanceof APIError && typeof err.status === 'number' ? err : undefined;
      const e = classifyError(err, this.ctx);
      gate.done({
        persona: r.prompt.persona,
        sent: meta.sent ?? api !== undefined,
        headers: api?.headers,
        ...(e instanceof RateLimitedError ? { throttledMs: e.retryAfterMs } : {}),
        ...(meta.usage ? { usage: meta.usage } : {}),
      });
      throw e;
    }
  }

  private async scoreOne(r: OptionScoreRequest, signal?: AbortSignal, meta: CallMeta = {}): Promise<OptionScore> {
    const body = await this.chat(
      {
        messages: chatMessages(r.prompt),
        max_tokens: 1,
        logprobs: true,
        top_logprobs: this.opts.topLogprobs ?? DEFAULT_TOP_LOGPROBS,
        temperature: this.opts.temperature ?? 0,
      },
      signal,
      meta,
    );
    const choice = firstChoice(body, this.ctx);
    if (!('logprobs' in choice)) {
      throw new FatalBackendError(
        `${where(this.ctx)}: the server answered without any logprobs field, so it does not support logprobs; ` +
          'use scoring mode `generate` for this server',
      );
    }
    const parsed = Logprobs.safeParse(choice.logprobs);
    if (!parsed.success) throw malformed(this.ctx, 'logprobs', parsed.error);
    // The schema guarantees at least one content entry.
    const top = parsed.data.content[0]!.top_logprobs;
    return scoreFromTopLogprobs(r.options, top, choice.message.content ?? undefined);
  }

  private async generateOne(r: GenerateRequest, signal?: AbortSignal, meta: CallMeta = {}): Promise<GenerateResult> {
    const body = await this.chat(
      {
        messages: chatMessages(r.prompt),
        max_tokens: r.maxTokens ?? this.opts.maxTokens,
        // Undefined fields are dropped from the JSON, so with neither set the API default applies (as in the seed).
        temperature: r.temperature ?? this.opts.temperature,
        top_p: r.topP,
        seed: r.seed,
        stop: r.stop?.length ? r.stop : undefined,
        // topK has no OpenAI equivalent; servers that accept it get it through `extraBody`.
      },
      signal,
      meta,
    );
    return { text: firstChoice(body, this.ctx).message.content ?? '' };
  }

  /** Returns the body as `unknown`: compatible servers vary, so callers validate what they read. */
  private async chat(fields: Record<string, unknown>, signal?: AbortSignal, meta: CallMeta = {}): Promise<unknown> {
    const params = { ...this.opts.extraBody, model: this.opts.model, ...fields };
    meta.sent = true;
    const { data, response } = await this.client.chat.completions
      .create(params as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal })
      .withResponse();
    meta.headers = response.headers;
    const usage = Usage.safeParse((data as { usage?: unknown } | string | null) && typeof data === 'object' ? (data as { usage?: unknown }).usage : undefined);
    if (usage.success) meta.usage = { promptTokens: usage.data.prompt_tokens, completionTokens: usage.data.completion_tokens ?? 0 };
    return data as unknown;
  }
}


/** What one request tells the gate. */
interface CallMeta {
  sent?: boolean;
  headers?: Headers;
  usage?: { promptTokens: number; completionTokens: number };
}

const Usage = z.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0).nullish() });

const Completion = z.object({
  choices: z.array(z.looseObject({ message: z.object({ content: z.string().nullish() }) })).min(1),
});
const TopEntry = z.object({ token: z.string(), logprob: z.number() });
const Logprobs = z.object({ content: z.array(z.object({ top_logprobs: z.array(TopEntry).min(1) })).min(1) });

function firstChoice(body: unknown, ctx: ErrorContext) {
  // The SDK hands back the raw text when the content-type is not JSON (e.g. a proxy's HTML error page).
  if (typeof body === 'string') {
    const head = body.length > 100 ? `${body.slice(0, 100)}…` : body;
    const msg = `${where(ctx)}: malformed response body (not JSON: ${JSON.stringify(head)})`;
    throw new TransientBackendError(redact(msg, ctx.apiKey));
  }
  const parsed = Completion.safeParse(body);
  if (!parsed.success) throw malformed(ctx, 'body', parsed.error);
  return parsed.data.choices[0]!;
}

function malformed(ctx: ErrorContext, what: string, err: z.ZodError): TransientBackendError {
  const issue = err.issues[0];
  const detail = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : err.message;
  return new TransientBackendError(redact(`${where(ctx)}: malformed response ${what} (${detail})`, ctx.apiKey));
}

/**
 * Log-probs of `options` from an API's top-logprobs list, matching tokens exactly. Options missing from the list get
 * the smallest returned log-prob ('floor'); if none is present the score is still returned (all at the floor) and the
 * caller decides to discard it.
 */
export function scoreFromTopLogprobs(
  options: string[],
  top: { token: string; logprob: number }[],
  raw?: string,
): OptionScore {
  const floor = Math.min(...top.map((t) => t.logprob));
  // Take the best match: servers can list the same text twice (distinct token ids that decode alike).
  const found = options.map((o) => {
    const hits = top.filter((t) => t.token === o).map((t) => t.logprob);
    return hits.length ? Math.max(...hits) : undefined;
  });
  const absent = options.filter((_, i) => found[i] === undefined);
  const logprobs = found.map((v) => v ?? floor);
  return absent.length === 0
    ? { logprobs, method: 'top_logprobs', absent, raw }
    : { logprobs, method: 'top_logprobs_partial', absent, absentPolicy: 'floor', raw };
}

/**
 * Maps anything a request can throw to a domain error: 429 → rate limited; 5xx, 408, timeouts, connection failures
 * and malformed bodies → transient; other 4xx → fatal. Messages name the base URL and model, never the API key.
 */
export function classifyError(err: unknown, ctx: ErrorContext): BackendError {
  if (err instanceof BackendError) return err;
  const say = (s: string) => redact(`${where(ctx)}: ${s}`, ctx.apiKey);
  if (err instanceof APIConnectionTimeoutError) {
    return new TransientBackendError(say(`request timed out${ctx.timeoutMs ? ` after ${ctx.timeoutMs} ms` : ''}`));
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const { status } = err;
    const detail = serverMessage(err);
    if (status === 429) {
      // A quota error is sent as 429 too, but waiting does not refill a billing quota.
      if (err.code === 'insufficient_quota' || err.type === 'insufficient_quota') {
        return new RunPausedError(say(`HTTP 429 insufficient_quota: ${detail}. The run pauses; add credit, then \`rolyplay resume <run>\``), 'QuotaExhausted', status);
      }
      // A daily cap (requests or tokens per day) does not refill within a retry's wait either.
      if (/per day|daily|\bRPD\b|\bTPD\b/i.test(detail)) {
        return new RunPausedError(say(`HTTP 429 daily limit: ${detail}. The run pauses; \`rolyplay resume <run>\` once the cap resets`), 'QuotaExhausted', status);
      }
      const delay = parseRetryAfterMs(err.headers) ?? DEFAULT_RETRY_AFTER_MS;
      return new RateLimitedError(say(`HTTP 429 rate limited: ${detail}`), delay);
    }
    if (status >= 500 || status === 408) return new TransientBackendError(say(`HTTP ${status}: ${detail}`));
    return new FatalBackendError(say(`HTTP ${status}${err.code ? ` ${err.code}` : ''}: ${detail}`), status);
  }
  if (err instanceof APIConnectionError) return new TransientBackendError(say(`connection failed (${causes(err)})`));
  // The SDK parses a JSON content-type with response.json(): a truncated or non-JSON body lands here.
  if (err instanceof SyntaxError) return new TransientBackendError(say(`malformed response body (${err.message})`));
  // Anything else escaped the SDK mid-I/O (e.g. the socket died while the body was read): retrying is the best bet.
  return new TransientBackendError(say(`request failed (${causes(err)})`));
}

/**
 * Delay requested by a 429: `retry-after-ms` (OpenAI), else `Retry-After` as seconds (possibly fractional) or as an
 * HTTP date. Undefined when no usable header is present.
 */
export function parseRetryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function where(ctx: ErrorContext): string {
  return `OpenAI-compatible backend (model "${ctx.model}" at ${safeURL(ctx.baseURL)})`;
}

/** The base URL without credentials or query string, which may hold secrets (e.g. `?api-key=`). */
function safeURL(baseURL: string): string {
  try {
    const u = new URL(baseURL);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid base URL)';
  }
}

/** The server's own error message when it sent an OpenAI-shaped error, else the SDK's text; bounded for HTML pages. */
function serverMessage(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  const text = typeof body?.message === 'string' ? body.message : err.message.replace(/^\d{3}\s*/, '');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** "fetch failed <- other side closed [UND_ERR_SOCKET]": the cause chain is where undici says what went wrong. */
function causes(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e != null && depth < 5; depth++) {
    const { message, code, cause } = e as { message?: unknown; code?: unknown; cause?: unknown };
    parts.push(`${typeof message === 'string' ? message : String(e)}${typeof code === 'string' ? ` [${code}]` : ''}`);
    e = cause;
  }
  return parts.join(' <- ');
}

/** Short placeholders ("EMPTY", "x") are not secrets, and replacing them would garble the message. */
function redact(message: string, apiKey: string | undefined): string {
  return apiKey && apiKey.length >= 8 ? message.split(apiKey).join('***') : message;
}

/**
 * A warning when the server's model list does not hold `model`: servers that serve one model (llama.cpp, some
 * vLLM setups) answer any model name with it, so the preflight cannot catch a wrong name and the results would be
 * labelled with a model that did not produce them. Undefined when the list holds it, is empty or cannot be read.
 */
export async function servedModelWarning(opts: { baseURL: string; model: string; apiKey: string; timeoutMs?: number }): Promise<string | undefined> {
  try {
    const client = new OpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey, maxRetries: 0, timeout: opts.timeoutMs ?? 3000 });
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      if (ids.length >= 50) break;
    }
    if (ids.length === 0 || ids.includes(opts.model)) return undefined;
    return (
      `the server at ${safeURL(opts.baseURL)} lists the models ${ids.slice(0, 5).map((i) => `"${i}"`).join(', ')}${ids.length > 5 ? ', …' : ''} but not ` +
      `"${opts.model}" (model.model); if it answers anyway it ignores model names, and the results are labelled "${opts.model}" ` +
      `but come from its own model: set model.model to the served name`
    );
  } catch {
    return undefined; // no model list (or unreachable): the run's preflight reports what matters
  }
}
