/**
 * (d) A 429 storm: every 3rd call gets 429 with Retry-After: 2. The run completes, and no call is retried
 * before its Retry-After (Temporal's nextRetryDelay, not the SDK's own retries).
 */
import { expect, it } from 'vitest';
import { every } from './support/fakeOpenAI.js';
import { fakeServerAndWorker, mmluConfig, tmpDir } from './support/harness.js';
import { expectedCorrect, mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';

const questions = readQuestions('anatomy', 4);
const env = fakeServerAndWorker(mmluPolicy(questions));

it('(d) completes through a 429 storm and honours Retry-After', async () => {
  // Call 0 is the preflight "ping"; the schedule counts every chat call.
  env.fake.setFaults(every(3, { kind: '429', retryAfterSec: 2 }));
  const outDir = tmpDir();
  const result = await env.h.run({
    config: mmluConfig({ baseURL: env.fake.baseURL, taskQueue: env.h.taskQueue, outDir, name: 'storm', subjects: ['anatomy'], limit: 4 }),
  });
  expect(result.cells).toBe(16);
  expect(await storedCells(outDir, 'storm')).toHaveLength(16);
  for (const persona of ['abstract algebra expert', 'anatomy expert', 'poet', 'none']) {
    const exp = expectedCorrect(questions, persona, 'logits');
    expect(result.personas.find((p) => p.persona === persona)).toMatchObject({ n: exp.n, correct: exp.correct });
  }

  const limited = env.fake.calls.filter((c) => c.status === 429);
  expect(limited.length).toBeGreaterThanOrEqual(5);
  for (const c of limited) {
    const next = env.fake.calls.find((d) => d.index > c.index && d.key === c.key);
    expect(next, `call ${c.index} (${c.key.slice(-40)}) was never retried`).toBeDefined();
    // Arrival times on the server: the retry may not come before Retry-After (allow 50 ms of clock granularity).
    expect(next!.time - c.time, `retry of call ${c.index}`).toBeGreaterThanOrEqual(2000 - 50);
  }
});
