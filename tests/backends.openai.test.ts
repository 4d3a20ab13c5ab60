import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError, OpenAIBackend, parseRetryAfterMs, type OpenAIBackendOptions } from '../backends/openai/backend.js';
import {
  FatalBackendError,
  RateLimitedError,
  TransientBackendError,
  type BackendError,
  type OptionScoreRequest,
  type Outcome,
} from '../backends/types.js';
import {
  anyOf,
  every,
  promptKey,
  startFakeOpenAI,
  whenKey,
  type FakeOpenAI,
  type FakeOpenAIOptions,
} from './support/fakeOpenAI.js';

const KEY = 'sk-test-0123456789abcdefSECRET';
const MODEL = 'gpt-fake';
const ctx = { baseURL: 'http://127.0.0.1:9/v1', model: MODEL, apiKey: KEY };
const LETTERS = ['A', 'B', 'C', 'D'];

let fake: FakeOpenAI | undefined;
const backends: OpenAIBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await fake?.close();
  fake = undefined;
});

function makeBackend(opts: Partial<OpenAIBackendOptions> = {}): OpenAIBackend {
  const b = new OpenAIBackend({
    baseURL: fake!.baseURL,
    model: MODEL,
    apiKey: KEY,
    concurrency: 4,
    rpm: 60_000,
    timeoutMs: 5_000,
    ...opts,
  });
  backends.push(b);
  return b;
}

async function setup(fakeOpts: FakeOpenAIOptions = {}, backendOpts: Partial<OpenAIBackendOptions> = {}) {
  fake = await startFakeOpenAI({ apiKey: KEY, models: [MODEL], ...fakeOpts });
  return { fake, backend: makeBackend(backendOpts) };
}

const ask = (user: string, system?: string): OptionScoreRequest => ({
  prompt: { user, system, text: user },
  options: LETTERS,
});

function err<T>(o: Outcome<T> | undefined): BackendError {
  if (!o || o.ok) throw new Error(`expected a failed outcome, got ${JSON.stringify(o)}`);
  return o.error;
}
function val<T>(o: Outcome<T> | undefined): T {
  if (!o?.ok) throw new Error(`expected a successful outcome, got ${o && String(o.error)}`);
  return o.value;
}

describe('classifyError', () => {
  const http = (status: number, body: object, headers: Record<string, string> = {}) =>
    APIError.generate(status, body, undefined, new Headers(headers));

  it('maps statuses to kinds and says where it failed', () => {
    const body401 = { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } };
    const e401 = classifyError(http(401, body401), ctx);
    expect(e401).toBeInstanceOf(FatalBackendError);
    expect((e401 as FatalBackendError).status).toBe(401);
    expect(e401.message).toContain('Incorrect API key provided');
    expect(e401.message).toContain(ctx.baseURL);
    expect(e401.message).toContain(MODEL);
    expect(classifyError(http(400, {}), ctx).kind).toBe('fatal');
    expect(classifyError(http(408, {}), ctx).kind).toBe('transient');
    expect(classifyError(http(502, {}), ctx).kind).toBe('transient');
    expect(classifyError(new APIConnectionTimeoutError(), ctx).kind).toBe('transient');
    expect(classifyError(new APIConnectionError({ message: 'Connection error.' }), ctx).kind).toBe('transient');
    expect(classifyError(new SyntaxError('Unexpected end of JSON input'), ctx).kind).toBe('transient');
  });

  it('429: retry-after-ms, Retry-After seconds or date, default 10 s; quota errors are fatal', () => {
    const rl = (h: Record<string, string>) => classifyError(http(429, { error: { message: 'slow down' } }, h), ctx);
    expect((rl({ 'retry-after-ms': '250', 'retry-after': '7' }) as RateLimitedError).retryAfterMs).toBe(250);
    expect((rl({ 'retry-after': '1.5' }) as RateLimitedError).retryAfterMs).toBe(1500);
    expect((rl({}) as RateLimitedError).retryAfterMs).toBe(10_000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now)).toBe(30_000);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    const quota = http(429, {
      error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
    });
    expect(classifyError(quota, ctx)).toBeInstanceOf(FatalBackendError);
  });

  it('never leaks the API key, nor credentials in the base URL', () => {
    const e = classifyError(http(401, { error: { message: `Incorrect API key provided: ${KEY}` } }), {
      ...ctx,
      baseURL: 'https://user:pw@example.com/v1?api-key=zzz',
    });
    expect(e.message).not.toContain(KEY);
    expect(e.message).not.toContain('pw@');
    expect(e.message).not.toContain('zzz');
    expect(e.message).toContain('https://example.com/v1');
  });
});

describe('OpenAIBackend scoreOptions (top_logprobs)', () => {
  it('reads all options from top_logprobs and sends a 1-token logprobs request', async () => {
    const { fake, backend } = await setup({
      policy: () => ({ content: 'B', logprobs: { B: -0.1, A: -2.5, C: -3, D: -4, ' B': -5 } }),
    });
    const [o] = await backend.scoreOptions([ask('Q1', 'You are a chemist.')]);
    expect(val(o)).toEqual({ logprobs: [-2.5, -0.1, -3, -4], method: 'top_logprobs', absent: [], raw: 'B' });
    const body = fake.calls[0]!.body;
    expect(body).toMatchObject({ model: MODEL, max_tokens: 1, logprobs: true, top_logprobs: 20, temperature: 0 });
    expect(body.messages).toEqual([
      { role: 'system', content: 'You are a chemist.' },
      { role: 'user', content: 'Q1' },
    ]);
  });

  it('fills options missing from the (truncated) top list with the floor', async () => {
    const { backend } = await setup(
      { policy: () => ({ content: 'B', logprobs: { B: -0.1, A: -1, C: -3, D: -5 } }) },
      { topLogprobs: 3 },
    );
    const [o] = await backend.scoreOptions([ask('Q1')]);
    expect(val(o)).toEqual({
      logprobs: [-1, -0.1, -3, -3],
      method: 'top_logprobs_partial',
      absent: ['D'],
      absentPolicy: 'floor',
      raw: 'B',
    });
  });

  it('still succeeds when no option is in the list (the caller discards it)', async () => {
    const { backend } = await setup({ policy: () => ({ content: 'The', logprobs: { The: -0.2, I: -1.5 } }) });
    const [o] = await backend.scoreOptions([ask('Q1')]);
    expect(val(o)).toMatchObject({
      logprobs: [-1.5, -1.5, -1.5, -1.5],
      method: 'top_logprobs_partial',
      absent: LETTERS,
    });
  });

  it('a server without logprobs support is fatal and points to scoring mode generate', async () => {
    const { backend } = await setup({ noLogprobs: true });
    const e = err((await backend.scoreOptions([ask('Q1')]))[0]);
    expect(e).toBeInstanceOf(FatalBackendError);
    expect(e.message).toMatch(/generate/);
  });

  it('logprobs: null is a malformed (transient) response', async () => {
    const body = JSON.stringify({ choices: [{ index: 0, message: { content: 'A' }, logprobs: null }] });
    const { backend } = await setup({ faults: () => ({ kind: 'malformed', body }) });
    expect(err((await backend.scoreOptions([ask('Q1')]))[0])).toBeInstanceOf(TransientBackendError);
  });
});

describe('OpenAIBackend generate', () => {
  it('returns the content and forwards sampling fields, leaving temperature unset by default', async () => {
    const { fake, backend } = await setup({ policy: (req) => ({ content: `echo:${req.messages.at(-1)?.content}` }) });
    const out = await backend.generate([
      { prompt: { user: 'hi', text: 'hi' } },
      { prompt: { user: 'yo', text: 'yo' }, maxTokens: 5, temperature: 0.7, topP: 0.9, seed: 3, stop: ['\n'] },
    ]);
    expect(out.map((o) => val(o).text)).toEqual(['echo:hi', 'echo:yo']);
    const byKey = new Map(fake.calls.map((c) => [c.key, c.body]));
    expect(byKey.get('hi')).not.toHaveProperty('temperature');
    expect(byKey.get('hi')).not.toHaveProperty('max_tokens');
    expect(byKey.get('yo')).toMatchObject({ max_tokens: 5, temperature: 0.7, top_p: 0.9, seed: 3, stop: ['\n'] });
  });

  it('uses backend defaults and extraBody, and maps null content to ""', async () => {
    const body = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: null } }] });
    const { fake, backend } = await setup(
      { faults: (i) => (i === 1 ? { kind: 'malformed', body } : undefined) },
      { temperature: 0.3, maxTokens: 7, extraBody: { top_k: 1, model: 'not-overridden' }, concurrency: 1 },
    );
    const [a] = await backend.generate([{ prompt: { user: 'a', text: 'a' } }]);
    const [b] = await backend.generate([{ prompt: { user: 'b', text: 'b' } }]);
    expect(val(a).text).toBe('ok');
    expect(val(b).text).toBe('');
    expect(fake.calls[0]!.body).toMatchObject({ model: MODEL, temperature: 0.3, max_tokens: 7, top_k: 1 });
  });
});

describe('OpenAIBackend HTTP failures', () => {
  it('401 is fatal, carries the server message, never the key; preflight throws it', async () => {
    const { fake } = await setup();
    const backend = makeBackend({ apiKey: 'sk-wrong-key-0123456789' });
    const e = err((await backend.generate([{ prompt: { user: 'x', text: 'x' } }]))[0]);
    expect(e).toBeInstanceOf(FatalBackendError);
    expect((e as FatalBackendError).status).toBe(401);
    expect(e.message).toContain('Incorrect API key provided');
    expect(e.message).toContain(fake.baseURL);
    expect(e.message).not.toContain('sk-wrong-key-0123456789');
    await expect(backend.preflight()).rejects.toMatchObject({ kind: 'fatal', status: 401 });
  });

  it('unknown model is fatal 404; a good preflight resolves', async () => {
    const { backend: good } = await setup();
    await expect(good.preflight()).resolves.toBeUndefined();
    const p = makeBackend({ model: 'gpt-nope' }).preflight();
    await expect(p).rejects.toBeInstanceOf(FatalBackendError);
    await expect(p).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/model_not_found.*gpt-nope/) });
  });

  it('429 with Retry-After seconds or HTTP date gives RateLimitedError with that delay', async () => {
    const { fake, backend } = await setup({ faults: () => ({ kind: '429', retryAfterSec: 2 }) });
    const e = err((await backend.generate([{ prompt: { user: 'x', text: 'x' } }]))[0]);
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(2000);

    // HTTP dates have 1 s resolution: 5 s ahead means 4-5 s from the client's point of view.
    fake.setFaults(() => ({ kind: '429', headers: { 'retry-after': new Date(Date.now() + 5000).toUTCString() } }));
    const d = err((await backend.generate([{ prompt: { user: 'x', text: 'x' } }]))[0]) as RateLimitedError;
    expect(d).toBeInstanceOf(RateLimitedError);
    expect(d.retryAfterMs).toBeGreaterThan(3000);
    expect(d.retryAfterMs).toBeLessThanOrEqual(5000);
  });

  it.each([500, 503])('%i is transient', async (status) => {
    const { backend } = await setup({ faults: () => ({ kind: '5xx', status }) });
    const e = err((await backend.scoreOptions([ask('Q')]))[0]);
    expect(e).toBeInstanceOf(TransientBackendError);
    expect(e.message).toContain(`HTTP ${status}`);
  });

  it('a hung server times out as transient', async () => {
    const { backend } = await setup({ faults: () => ({ kind: 'timeout' }) }, { timeoutMs: 200 });
    const t0 = Date.now();
    const e = err((await backend.generate([{ prompt: { user: 'x', text: 'x' } }]))[0]);
    expect(e).toBeInstanceOf(TransientBackendError);
    expect(e.message).toMatch(/timed out/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a reset connection is transient', async () => {
    const { backend } = await setup({ faults: () => ({ kind: 'reset' }) });
    const e = err((await backend.generate([{ prompt: { user: 'x', text: 'x' } }]))[0]);
    expect(e).toBeInstanceOf(TransientBackendError);
    expect(e.message).toMatch(/connection failed/);
  });

  it('truncated JSON and non-JSON bodies are transient', async () => {
    const { fake, backend } = await setup({ faults: () => ({ kind: 'malformed' }) });
    expect(err((await backend.scoreOptions([ask('Q')]))[0])).toBeInstanceOf(TransientBackendError);
    fake.setFaults(() => ({ kind: 'malformed', contentType: 'text/html', body: '<html>502 Bad Gateway</html>' }));
    const [html] = await backend.generate([{ prompt: { user: 'x', text: 'x' } }]);
    expect(err(html)).toBeInstanceOf(TransientBackendError);
    expect(err(html).message).toContain('not JSON');
  });
});

describe('OpenAIBackend batches and limiter', () => {
  const letterFor = (key: string) => LETTERS[Number(key.slice(1)) % 4]!;

  it('one failing request does not hide the others, and results keep request order', async () => {
    const { backend } = await setup(
      {
        policy: (req) => ({ content: letterFor(promptKey(req)), logprobs: { A: -1, B: -1, C: -1, D: -1 } }),
        faults: anyOf(whenKey('q2', { kind: '5xx', status: 503 }), whenKey('q3', { kind: 'reset' })),
      },
      { concurrency: 3 },
    );
    const out = await backend.scoreOptions(['q0', 'q1', 'q2', 'q3', 'q4', 'q5'].map((q) => ask(q)));
    expect(out.map((o) => o.ok)).toEqual([true, true, false, false, true, true]);
    expect([0, 1, 4, 5].map((i) => val(out[i]).raw)).toEqual(['A', 'B', 'A', 'B']);
    expect(err(out[2]).message).toContain('HTTP 503');
  });

  it('every(3) fails exactly every third call', async () => {
    const { backend } = await setup({ faults: every(3, { kind: '5xx', status: 500 }) }, { concurrency: 1 });
    const out = await backend.generate(Array.from({ length: 6 }, (_, i) => ({ prompt: { user: `g${i}`, text: '' } })));
    expect(out.map((o) => o.ok)).toEqual([true, true, false, true, true, false]);
  });

  it('never has more than `concurrency` requests in flight', async () => {
    const { fake, backend } = await setup({ latencyMs: 60 }, { concurrency: 2 });
    const out = await backend.generate(Array.from({ length: 6 }, (_, i) => ({ prompt: { user: `c${i}`, text: '' } })));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(fake.maxInFlight).toBe(2);
  });

  it('spaces request starts by 60000/rpm', async () => {
    const { fake, backend } = await setup({}, { concurrency: 4, rpm: 400 }); // 150 ms apart
    await backend.generate(Array.from({ length: 4 }, (_, i) => ({ prompt: { user: `r${i}`, text: '' } })));
    const times = fake.calls.map((c) => c.time).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Arrival times carry network jitter: loose bounds per gap, a tighter one on the whole span.
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(100);
      expect(g).toBeLessThan(600);
    }
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(400);
  });

  it('abort rejects the batch at once and queued requests are never sent', async () => {
    const { fake, backend } = await setup({ latencyMs: 300 }, { concurrency: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    const requests = Array.from({ length: 3 }, (_, i) => ({ prompt: { user: `a${i}`, text: '' } }));
    const p = backend.generate(requests, ac.signal);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls.length).toBe(1);
  });

  it('id names the model and host', async () => {
    const { fake, backend } = await setup();
    expect(backend.id).toBe(`openai:${MODEL}@${new URL(fake.baseURL).host}`);
  });
});
