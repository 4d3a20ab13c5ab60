/**
 * The bandit on the full Temporal path, through the OpenAI-compatible test server over real HTTP:
 * a known probit policy is recovered by the regression; a run interrupted by backend failures (retried batches
 * resuming from their heartbeats) gives exactly the results of an uninterrupted seeded run; games whose answers
 * are never "1"/"2" are abandoned and counted; bad configs fail fast.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { atCalls } from './support/fakeOpenAI.js';
import { fakeServerAndWorker, tmpDir } from './support/harness.js';
import { probitPolicy } from './support/banditPolicy.js';
import { resolveConfig } from '../experiment/load.js';
import { InputError } from '../experiment/errors.js';

const BETA = { V: 0.8, RU: 0.3, VTU: 1.5 };
const env = fakeServerAndWorker(probitPolicy(BETA));

function banditConfig(outDir: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    task: 'bandit',
    games: 40,
    trials: 10,
    seed: 7,
    personas: [{ name: 'test', personas: ['4 year old', '30 year old'] }],
    model: { backend: 'openai', model: 'test-model', base_url: env.fake.baseURL, api_key_env: 'TEST_OPENAI_KEY', concurrency: 8, rpm: 600000, timeout_s: 5 },
    execution: { games_per_batch: 10, batches_per_shard: 2, heartbeat_s: 5, task_queue: env.h.taskQueue },
    output: { dir: outDir },
    ...extra,
  };
}

function metricsOf(outDir: string, run: string) {
  return JSON.parse(readFileSync(join(outDir, run, 'metrics.json'), 'utf8'));
}

describe('bandit end to end', () => {
  it('recovers a known probit policy through the whole Temporal path', async () => {
    const outDir = tmpDir();
    const result = await env.h.run({ config: banditConfig(outDir, 'probit', { games: 250 }) });
    expect(result.task).toBe('bandit');
    expect(result.cells).toBe(2 * 250);
    expect(result.discarded).toBe(0);
    const rows = parse(readFileSync(result.files.trialsCsv as string, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2 * 250 * 10);
    expect(Object.keys(rows[0]!)).toEqual(['V', 'RU', 'V/TU', 'action1', 'regret', 'reward', 'mu1', 'mu2', 'trial', 'persona', 'game', 'logprob1', 'logprob2', 'attempts']);
    expect(rows.filter((r) => r.trial === '0').every((r) => r.V === '0' && r.RU === '0.0')).toBe(true);

    const m = metricsOf(outDir, 'probit');
    for (const p of m.personas) {
      expect(p.games).toBe(250);
      expect(p.probit.converged).toBe(true);
      const [bV, bRU, bVTU] = p.probit.coef as number[];
      const [sV, sRU, sVTU] = p.probit.se as number[];
      // The prompt shows points rounded to 0.1, so the policy's beliefs differ slightly from the logged ones.
      expect(Math.abs(bV! - BETA.V), `β_V ${bV} ± ${sV}`).toBeLessThan(3 * sV!);
      expect(Math.abs(bRU! - BETA.RU), `β_RU ${bRU} ± ${sRU}`).toBeLessThan(3 * sRU!);
      expect(Math.abs(bVTU! - BETA.VTU), `β_V/TU ${bVTU} ± ${sVTU}`).toBeLessThan(3 * sVTU!);
      expect(sV!).toBeGreaterThan(0);
    }
  });

  it('gives a seeded run the same results when batches fail and resume mid-game', async () => {
    const clean = tmpDir();
    await env.h.run({ config: banditConfig(clean, 'clean') });
    const faulty = tmpDir();
    env.fake.reset();
    // A few failures in the middle of games (Temporal backs off per activity attempt, so keep them few).
    env.fake.setFaults(atCalls([45, 130, 290, 455, 610], { kind: '5xx', status: 503 }));
    try {
      const r = await env.h.run({ config: banditConfig(faulty, 'faulty') });
      expect(r.cells).toBe(80);
    } finally {
      env.fake.setFaults(undefined);
    }
    expect(env.fake.calls.filter((c) => c.status === 503)).toHaveLength(5);
    // 800 choices + the preflight. A retried batch resumes from its last heartbeat (the unfinished games' actions):
    // at most the round in flight at each failure (20 games) may be asked again, never whole batches or stored games.
    const ok = env.fake.calls.filter((c) => c.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(801);
    expect(ok).toBeLessThanOrEqual(801 + 5 * 20);
    const a = readFileSync(join(clean, 'clean', 'trials.csv'), 'utf8');
    const b = readFileSync(join(faulty, 'faulty', 'trials.csv'), 'utf8');
    expect(b).toBe(a);
    // Results equal; API usage may not: the rounds in flight at a failure are asked again (and counted).
    const { run: _a, usage: ua, ...ma } = metricsOf(clean, 'clean');
    const { run: _b, usage: ub, ...mb } = metricsOf(faulty, 'faulty');
    expect(mb).toEqual(ma);
    expect(ub.total.requests).toBeGreaterThanOrEqual(ua.total.requests);
  });

  it('abandons a game after 20 answers that are not exactly "1" or "2"', async () => {
    env.fake.setPolicy(probitPolicy(BETA, { garbageFor: '4 year old' }));
    try {
      const outDir = tmpDir();
      env.fake.reset();
      const r = await env.h.run({ config: banditConfig(outDir, 'abandon', { games: 3, scoring: { mode: 'generate' } }) });
      expect(r.cells).toBe(6);
      expect(r.discarded).toBe(3);
      const m = metricsOf(outDir, 'abandon');
      const child = m.personas.find((p: { persona: string }) => p.persona === '4 year old');
      const adult = m.personas.find((p: { persona: string }) => p.persona === '30 year old');
      expect(child).toMatchObject({ games: 0, abandoned: 3 });
      expect(adult).toMatchObject({ games: 3, abandoned: 0 });
      // 20 tries on the first trial of each of the child's 3 games, then nothing more for them.
      expect(env.fake.calls.filter((c) => c.key.includes('If you were a 4 year old,')).length).toBe(3 * 20);
      const rows = parse(readFileSync(join(outDir, 'abandon', 'trials.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
      expect(rows.filter((x) => x.persona === '4 year old')).toHaveLength(0);
      expect(rows.filter((x) => x.persona === '30 year old')).toHaveLength(30);
    } finally {
      env.fake.setPolicy(probitPolicy(BETA));
    }
  });
});

describe('bandit config errors', () => {
  it('rejects a negative number of trials, naming the field', () => {
    expect(() => resolveConfig({ task: 'bandit', trials: -3, model: { backend: 'openai', model: 'x' } })).toThrow(InputError);
    expect(() => resolveConfig({ task: 'bandit', trials: -3, model: { backend: 'openai', model: 'x' } })).toThrow(/trials/);
  });
  it('rejects an unknown persona set with the list of known ones', () => {
    expect(() => resolveConfig({ task: 'bandit', personas: ['agez'], model: { backend: 'openai', model: 'x' } })).toThrow(/unknown persona set "agez".*ages/);
  });
});
