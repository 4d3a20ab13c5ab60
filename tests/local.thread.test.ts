/**
 * The worker-thread proxy the engine uses for local models (so forward passes do not hold the thread that runs
 * heartbeats, workflow tasks and progress queries): same scores as the in-thread backend, per-request failures keep
 * their kind, and load failures are fatal with the folder named.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LocalOnnxBackend } from '../backends/onnx/backend.js';
import { ThreadedBackend } from '../backends/onnx/thread.js';
import { unloadLocalModels } from '../backends/onnx/model.js';
import { formatPrompt } from '../prompts/formats.js';
import { TINY } from './support/localFixtures.js';

const requests = Array.from({ length: 48 }, (_, i) => {
  const user = `Please consider the following multiple-choice question.\nQuestion: what is ${i} + ${i}?\nA: ${i}\nB: ${2 * i}\nC: 1\nD: 0\n\nIf you were a persona number ${i}, which answer would you choose?`;
  return { prompt: { user, text: formatPrompt('plain', { user }) }, options: ['A', 'B', 'C', 'D'] };
});

const threaded = new ThreadedBackend({ path: TINY, variant: 'fp32', providers: ['cpu'] }, 'plain');
afterAll(async () => {
  await threaded.close();
  await unloadLocalModels();
});

describe('ThreadedBackend', () => {
  it('scores exactly like the in-thread backend', async () => {
    const direct = new LocalOnnxBackend({ path: TINY, format: 'plain' });
    const [a, b] = [await threaded.scoreOptions(requests), await direct.scoreOptions(requests)];
    expect(a).toEqual(b);
    expect(a.every((o) => o.ok)).toBe(true);
  });

  it('keeps a bad request\'s failure and kind, and the others\' results', async () => {
    const out = await threaded.scoreOptions([requests[0]!, { ...requests[1]!, options: ['A', 'Machine learning'] }]);
    expect(out[0]!.ok).toBe(true);
    expect(out[1]!.ok).toBe(false);
    expect(!out[1]!.ok && out[1]!.error.kind).toBe('fatal');
    expect(!out[1]!.ok && out[1]!.error.message).toMatch(/not a single token/);
  });

  it('reports a bad model folder as a fatal error', async () => {
    const broken = new ThreadedBackend({ path: '/nonexistent/model', variant: 'fp32', providers: ['cpu'] }, 'plain');
    await expect(broken.preflight()).rejects.toMatchObject({ kind: 'fatal', message: expect.stringContaining('/nonexistent/model') });
    await broken.close();
  });
});
