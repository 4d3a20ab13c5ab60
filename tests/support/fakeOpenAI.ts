/**
 * A fake OpenAI chat-completions server over real HTTP (node:http on 127.0.0.1, random port), for tests that must
 * exercise the real SDK, sockets and timeouts. Answers come from a policy function; failures are injected by a
 * fault schedule; both can be swapped at runtime.
 *
 *   const fake = await startFakeOpenAI({ policy: () => ({ content: 'B', logprobs: { A: -2, B: -0.1 } }) });
 *   new OpenAIBackend({ baseURL: fake.baseURL, ... });
 *   fake.setFaults(every(3, { kind: '5xx', status: 503 }));
 *   await fake.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChatMessage {
  role: string;
  content: unknown;
}

/** The parsed request body (fields the fake understands; others are kept as sent). */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  logprobs?: boolean;
  top_logprobs?: number;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  [field: string]: unknown;
}

export interface PolicyAnswer {
  /** The whole generated text. With logprobs it is reported as one single token. */
  content: string;
  /** Next-token log-probs (token → logprob) that feed `top_logprobs`; include `content` for realism. */
  logprobs?: Record<string, number>;
  finishReason?: 'stop' | 'length';
}

export type Policy = (req: ChatRequest) => PolicyAnswer | Promise<PolicyAnswer>;

export type Fault =
  /** 429 with `Retry-After: retryAfterSec` (if given) plus any extra headers; `code: 'insufficient_quota'` mimics a
   * billing-quota error. */
  | {
      kind: '429';
      retryAfterSec?: number;
      headers?: Record<string, string>;
      code?: 'rate_limit_exceeded' | 'insufficient_quota';
    }
  | { kind: '5xx'; status: number }
  /** Never answer: the socket is held until the client gives up or the server closes. */
  | { kind: 'timeout' }
  /** Destroy the socket with a TCP RST. */
  | { kind: 'reset' }
  /** 200 with a body that is not a chat completion; default: truncated JSON under `application/json`. */
  | { kind: 'malformed'; body?: string; contentType?: string };

/** Decides the fault (if any) for chat call number `callIndex` (0-based, in arrival order). */
export type FaultSchedule = (callIndex: number, req: ChatRequest) => Fault | undefined;

export interface CallRecord {
  /** Position in `calls`, the index passed to the fault schedule. */
  index: number;
  /** Arrival time, epoch ms. */
  time: number;
  /** Identifies the prompt: the text of the last user message. */
  key: string;
  body: ChatRequest;
  /** HTTP status sent; null while pending, and for ever for `timeout`/`reset` faults. */
  status: number | null;
  fault?: Fault['kind'];
}

export interface FakeOpenAIOptions {
  /** Default: always answers "ok". */
  policy?: Policy;
  /** When set, requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** When set, other model names get 404 `model_not_found`; also what `GET /v1/models` lists. */
  models?: string[];
  faults?: FaultSchedule;
  /** Delay before answering (also before injected faults), ms. */
  latencyMs?: number | ((req: ChatRequest, callIndex: number) => number);
  /** Mimic a server without logprobs support: choices carry no `logprobs` field at all. */
  noLogprobs?: boolean;
  /** What `GET /v1/models` lists when `models` is unset; other names are still answered (like llama.cpp's server). */
  listedModels?: string[];
  /** Listen on this port (e.g. one a run was pointed at before the server came up); default: a free one. */
  port?: number;
  /** Listen on this address (e.g. a veth pair's host end, for a worker in a network namespace); default 127.0.0.1. */
  host?: string;
  /** Extra headers of each successful answer, e.g. `x-ratelimit-remaining-requests` (run control tests). */
  responseHeaders?: (callIndex: number, req: ChatRequest) => Record<string, string> | undefined;
}

export interface FakeOpenAI {
  /** Ends in `/v1`, as the OpenAI SDK expects. */
  readonly baseURL: string;
  /** One record per `POST /v1/chat/completions` with a parseable body, in arrival order. */
  readonly calls: CallRecord[];
  /** Chat requests currently open (arrived, response not finished). */
  readonly inFlight: number;
  /** Highest `inFlight` seen since start or `reset()`. */
  readonly maxInFlight: number;
  setPolicy(policy: Policy): void;
  setFaults(faults: FaultSchedule | undefined): void;
  setLatency(latencyMs: FakeOpenAIOptions['latencyMs']): void;
  setResponseHeaders(headers: FakeOpenAIOptions['responseHeaders']): void;
  /** Forgets recorded calls (so fault call indices restart at 0) and the in-flight maximum. */
  reset(): void;
  /** Stops listening and destroys every connection, hung ones included. */
  close(): Promise<void>;
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let policy: Policy = opts.policy ?? (() => ({ content: 'ok' }));
  let faults = opts.faults;
  let latency = opts.latencyMs;
  let responseHeaders = opts.responseHeaders;
  const calls: CallRecord[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const closing = new AbortController();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const time = Date.now();
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const authorized = !opts.apiKey || req.headers.authorization === `Bearer ${opts.apiKey}`;

    if (req.method === 'GET' && path === '/v1/models') {
      if (!authorized) return sendJSON(res, 401, authError(req.headers.authorization));
      const data = (opts.models ?? opts.listedModels ?? []).map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' }));
      return sendJSON(res, 200, { object: 'list', data });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendJSON(res, 404, apiError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error', null));
    }
    let body: ChatRequest;
    try {
      body = JSON.parse(await readBody(req)) as ChatRequest;
    } catch {
      const msg = 'We could not parse the JSON body of your request.';
      return sendJSON(res, 400, apiError(msg, 'invalid_request_error', null));
    }

    const call: CallRecord = { index: calls.length, time, key: promptKey(body), body, status: null };
    calls.push(call);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      sendJSON(res, status, payload, headers);
    };

    if (!authorized) return send(401, authError(req.headers.authorization));
    if (opts.models && !opts.models.includes(body.model)) {
      const msg = `The model \`${body.model}\` does not exist or you do not have access to it.`;
      return send(404, apiError(msg, 'invalid_request_error', 'model_not_found'));
    }
    if (body.stream) return send(400, apiError('The fake server does not stream.', 'invalid_request_error', null));

    const fault = faults?.(call.index, body);
    const delay = typeof latency === 'function' ? latency(body, call.index) : latency;
    // Aborted by close(): the connection is being destroyed anyway, so just stop.
    if (delay && !(await sleep(delay, true, { signal: closing.signal }).catch(() => false))) return;
    if (res.destroyed) return;

    if (fault) {
      call.fault = fault.kind;
      switch (fault.kind) {
        case '429': {
          const retryAfter: Record<string, string> =
            fault.retryAfterSec !== undefined ? { 'retry-after': String(fault.retryAfterSec) } : {};
          return send(429, rateLimitError(fault.code ?? 'rate_limit_exceeded'), { ...retryAfter, ...fault.headers });
        }
        case '5xx':
          return send(fault.status, apiError(SERVER_ERROR, 'server_error', null));
        case 'timeout':
          return; // hold the socket; res 'close' still fires when the client aborts or close() destroys it
        case 'reset':
          req.socket.resetAndDestroy();
          return;
        case 'malformed':
          call.status = 200;
          res.writeHead(200, { 'content-type': fault.contentType ?? 'application/json' });
          res.end(fault.body ?? '{"id":"chatcmpl-fake","object":"chat.completion","choi');
          return;
      }
    }

    let answer: PolicyAnswer;
    try {
      answer = await policy(body);
    } catch (err) {
      // Make a broken test policy loud rather than a silent hang.
      return send(500, apiError(`fake policy threw: ${String(err)}`, 'server_error', null));
    }
    send(200, completion(body, answer, call.index, !opts.noLogprobs), responseHeaders?.(call.index, body) ?? {});
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      sendJSON(res, 500, apiError(`fake server error: ${String(err)}`, 'server_error', null));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://${opts.host ?? '127.0.0.1'}:${port}/v1`,
    calls,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    setPolicy: (p) => void (policy = p),
    setFaults: (f) => void (faults = f),
    setLatency: (l) => void (latency = l),
    setResponseHeaders: (h) => void (responseHeaders = h),
    reset: () => {
      calls.length = 0;
      maxInFlight = inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        // close() alone waits for open sockets, and a 'timeout' fault never ends its own.
        server.closeAllConnections();
      }),
  };
}

/** Most calls arriving within any `windowMs` (arrival times on the server), and when that window started. */
export function peakInWindow(calls: { time: number }[], windowMs: number): { count: number; start: number } {
  const t = calls.map((c) => c.time).sort((a, b) => a - b);
  let best = { count: 0, start: t[0] ?? 0 };
  for (let i = 0, j = 0; i < t.length; i++) {
    while ((t[i] as number) - (t[j] as number) >= windowMs) j++;
    if (i - j + 1 > best.count) best = { count: i - j + 1, start: t[j] as number };
  }
  return best;
}

// ---- fault schedules -------------------------------------------------------------------------------------------

/** Every n-th call (calls n-1, 2n-1, ...). */
export const every = (n: number, fault: Fault): FaultSchedule => (i) => ((i + 1) % n === 0 ? fault : undefined);

/** The first n calls, then none: "fails, then recovers". */
export const firstCalls = (n: number, fault: Fault): FaultSchedule => (i) => (i < n ? fault : undefined);

/** Exactly the given call indices. */
export const atCalls =
  (indices: number[], fault: Fault): FaultSchedule =>
  (i) =>
    indices.includes(i) ? fault : undefined;

/** Calls whose prompt key matches: stable when concurrency makes arrival order random. */
export const whenKey =
  (match: string | RegExp | ((key: string) => boolean), fault: Fault): FaultSchedule =>
  (_i, req) => {
    const key = promptKey(req);
    const hit = typeof match === 'string' ? key === match : match instanceof RegExp ? match.test(key) : match(key);
    return hit ? fault : undefined;
  };

/** The first schedule that injects something wins. */
export const anyOf =
  (...schedules: FaultSchedule[]): FaultSchedule =>
  (i, req) => {
    for (const s of schedules) {
      const f = s(i, req);
      if (f) return f;
    }
    return undefined;
  };

/** The text of the last user message (content parts joined), used as `CallRecord.key`. */
export function promptKey(req: ChatRequest): string {
  const user = [...(req.messages ?? [])].reverse().find((m) => m.role === 'user');
  const c = user?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

// ---- protocol bodies -------------------------------------------------------------------------------------------

function completion(req: ChatRequest, answer: PolicyAnswer, index: number, logprobsSupported: boolean) {
  const promptChars = req.messages.reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : 0), 0);
  const promptTokens = Math.ceil(promptChars / 4);
  const completionTokens = Math.max(1, Math.ceil(answer.content.length / 4));
  const choice: Record<string, unknown> = {
    index: 0,
    message: { role: 'assistant', content: answer.content, refusal: null },
    finish_reason: answer.finishReason ?? 'stop',
  };
  // Real OpenAI sends `logprobs: null` when they were not asked for; servers without support omit the field.
  if (logprobsSupported) {
    choice.logprobs = req.logprobs ? { content: logprobsContent(answer, req.top_logprobs ?? 0), refusal: null } : null;
  }
  return {
    id: `chatcmpl-fake-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    choices: [choice],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    system_fingerprint: 'fp_fake',
  };
}

function logprobsContent(answer: PolicyAnswer, topN: number) {
  const table = answer.logprobs ?? { [answer.content]: 0 };
  const sorted = Object.entries(table).sort((a, b) => b[1] - a[1]);
  const entry = (token: string, logprob: number) => ({ token, logprob, bytes: [...Buffer.from(token, 'utf8')] });
  const chosen = table[answer.content] ?? sorted[0]?.[1] ?? 0;
  return [{ ...entry(answer.content, chosen), top_logprobs: sorted.slice(0, topN).map(([t, l]) => entry(t, l)) }];
}

const SERVER_ERROR = 'The server had an error while processing your request. Sorry about that!';

function apiError(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}

function authError(authorization: string | undefined) {
  const key = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  // OpenAI masks the key it echoes; so does the fake, so a leak in our messages would be the backend's own doing.
  const masked = `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 7))}${key.slice(-4)}`;
  const message = key
    ? `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`
    : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
      'auth (i.e. Authorization: Bearer YOUR_KEY).';
  return apiError(message, 'invalid_request_error', 'invalid_api_key');
}

function rateLimitError(code: 'rate_limit_exceeded' | 'insufficient_quota') {
  return code === 'insufficient_quota'
    ? apiError(
        'You exceeded your current quota, please check your plan and billing details.',
        'insufficient_quota',
        code,
      )
    : apiError('Rate limit reached for requests. Please try again later.', 'requests', code);
}

function sendJSON(res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(payload));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
