/**
 * (d) A 429 storm: every 3rd call gets 429 with Retry-After: 2. The run completes, and no call is retried
 * before its Retry-After (Temporal's nextRetryDelay, not the SDK's own retries).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeOpenAI, every, type FakeOpenAI } from './support/fakeOpenAI.js';
import { harness, mmluConfig, tmpDir, type Harness } from './support/harness.js';
import { expectedCorrect, mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';

const questions = readQuestions('anatomy', 4);
let fake: FakeOpenAI;
let h: Harness;

beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test' });
  h = await harness();
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

it('(d) completes through a 429 storm and honours Retry-After', async () => {
  // Call 0 is the preflight "ping"; the schedule counts every chat call.
  fake.setFaults(every(3, { kind: '429', retryAfterSec: 2 }));
  const outDir = tmpDir();
  const result = await h.run({
    config: mmluConfig({ baseURL: fake.baseURL, taskQueue: h.taskQueue, outDir, name: 'storm', subjects: ['anatomy'], limit: 4 }),
  });
  expect(result.cells).toBe(16);
  expect(storedCells(outDir, 'storm')).toHaveLength(16);
  for (const persona of ['abstract algebra expert', 'anatomy expert', 'poet', 'none']) {
    const exp = expectedCorrect(questions, persona, 'logits');
    expect(result.personas.find((p) => p.persona === persona)).toMatchObject({ n: exp.n, correct: exp.correct });
  }

  const limited = fake.calls.filter((c) => c.status === 429);
  expect(limited.length).toBeGreaterThanOrEqual(5);
  for (const c of limited) {
    const next = fake.calls.find((d) => d.index > c.index && d.key === c.key);
    expect(next, `call ${c.index} (${c.key.slice(-40)}) was never retried`).toBeDefined();
    // Arrival times on the server: the retry may not come before Retry-After (allow 50 ms of clock granularity).
    expect(next!.time - c.time, `retry of call ${c.index}`).toBeGreaterThanOrEqual(2000 - 50);
  }
});
