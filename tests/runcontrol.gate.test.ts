/**
 * The request gate (control/gate.ts) between the real OpenAI SDK and the local OpenAI-protocol server over HTTP, on
 * a real SQLite store: server headers and 429s reach the shared bucket, and the API key is never stored.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { OpenAIBackend } from '../backends/openai/backend.js';
import { bucketKey, RequestGate } from '../control/gate.js';
import { SqliteStore } from '../store/sqlite.js';
import { atCalls, startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { tmpDir } from './support/harness.js';
import type { BucketState } from '../control/bucket.js';

const KEY = 'sk-test-secret-0123456789';
let fake: FakeOpenAI;
let store: SqliteStore;
beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY, policy: () => ({ content: 'A', logprobs: { A: -0.1, B: -2 } }) });
  store = new SqliteStore(join(tmpDir(), 'results.sqlite'));
});
afterAll(async () => {
  await store?.close();
  await fake?.close();
});

function setup(run: string, rpm = 60_000) {
  const backend = new OpenAIBackend({ baseURL: fake.baseURL, model: 'm', apiKey: KEY, concurrency: 1, rpm, timeoutMs: 5000 });
  const bucket = bucketKey(fake.baseURL, KEY, 'm');
  const gate = new RequestGate({ store, bucket, run, limits: { rpm } });
  return { backend, gated: backend.withGate(gate), gate, bucket };
}

const requests = (n: number, persona = 'p') => Array.from({ length: n }, (_, i) => ({ prompt: { user: `q${i}`, text: `q${i}`, persona }, options: ['A', 'B'] }));

it('x-ratelimit-remaining-requests: 0 holds every request until the reset the server named', async () => {
  fake.reset();
  const { gated, backend, gate } = setup('headers');
  fake.setResponseHeaders((i) => (i === 2 ? { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.2s' } : undefined));
  try {
    const out = await gated.scoreOptions(requests(6), undefined);
    expect(out.every((o) => o.ok)).toBe(true);
    const [c2, c3] = [fake.calls[2], fake.calls[3]];
    // The headers arrive with call 2's answer; the gate reads them at its next lease (call 3 is then held).
    expect((c3?.time ?? 0) - (c2?.time ?? 0)).toBeGreaterThanOrEqual(1000);
  } finally {
    await gate.flush();
    fake.setResponseHeaders(undefined);
    await backend.close();
  }
});

it('a 429 halves the shared rate and counts in the bucket; usage is kept per persona; the key is never stored', async () => {
  fake.reset();
  const { gated, backend, gate, bucket } = setup('aimd', 600);
  fake.setFaults(atCalls([1], { kind: '429', retryAfterSec: 1 }));
  try {
    const out = await gated.scoreOptions(requests(3, 'poet'), undefined);
    expect(out.filter((o) => !o.ok)).toHaveLength(1);
    await gate.flush();
    const s = (await store.readControl(bucket)) as BucketState;
    expect(s.throttled).toBe(1);
    expect(s.rpm).toBeLessThan(600 * 0.6);
    expect(s.rpm).toBeGreaterThanOrEqual(300);
    const usage = (await store.readControl('usage:aimd')) as { requests: number; personas: Record<string, { requests: number; promptTokens: number }> };
    expect(usage.requests).toBe(3);
    expect(usage.personas.poet?.requests).toBe(3);
    expect(usage.personas.poet?.promptTokens).toBeGreaterThan(0);
    const rows = store.db.prepare('SELECT key, state_json FROM control').all() as { key: string; state_json: string }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(KEY);
    expect(JSON.stringify(rows)).not.toContain(KEY.slice(3, 15));
  } finally {
    fake.setFaults(undefined);
    await backend.close();
  }
});
