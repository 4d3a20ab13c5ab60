/**
 * Run control's plain math (control/bucket.ts, control/budget.ts): the token bucket, AIMD, rate-limit headers and
 * budgets, with the clock passed in. The fleet-wide behaviour with real processes is in runcontrol.fleet.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyFeedback, feedbackFromHeaders, lease, mergeFeedback, newBucket, parseResetMs, setOverride, type BucketState } from '../control/bucket.js';
import { addRunUsage, budgetReached, costOf, priceFor, requestsLeft } from '../control/budget.js';
import { InputError } from '../experiment/errors.js';
import { tmpDir } from './support/harness.js';

/** Requests granted over `seconds` when asking as often as the bucket allows (every `stepMs`). */
function drain(limits: { rpm: number; tpm?: number }, seconds: number, stepMs = 10, tokensPerRequest = 1, start?: BucketState): { granted: number[]; state: BucketState } {
  let s = start;
  const granted: number[] = [];
  for (let t = 0; t <= seconds * 1000; t += stepMs) {
    const l = lease(s, t, limits, { requests: 100, tokensPerRequest });
    s = l.state;
    for (let i = 0; i < l.granted; i++) granted.push(t);
  }
  return { granted, state: s as BucketState };
}

function peak(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('token bucket', () => {
  it('grants the configured rate, with a burst of at most one second of it', () => {
    const { granted } = drain({ rpm: 600 }, 30);
    // 10/s for 30 s plus the initial 1 s burst.
    expect(granted.length).toBeGreaterThanOrEqual(300);
    expect(granted.length).toBeLessThanOrEqual(311);
    expect(peak(granted, 10_000)).toBeLessThanOrEqual(100 + 10);
    expect(peak(granted, 1000)).toBeLessThanOrEqual(20);
  });

  it('limits tokens per minute too, charging the estimate and the correction reported after the request', () => {
    const { granted } = drain({ rpm: 60_000, tpm: 6000 }, 10, 10, 100);
    // 100 tokens per second / 100 per request ≈ 1 request per second (plus burst).
    expect(granted.length).toBeGreaterThanOrEqual(9);
    expect(granted.length).toBeLessThanOrEqual(13);
    // A request that used 500 tokens more than estimated puts the bucket in debt: nothing for ~5 s.
    const s = applyFeedback(newBucket({ rpm: 60_000, tpm: 6000 }, 0), 0, { rpm: 60_000, tpm: 6000 }, { tokenDelta: 600 });
    const l = lease(s, 0, { rpm: 60_000, tpm: 6000 }, { requests: 1, tokensPerRequest: 100 });
    expect(l.granted).toBe(0);
    expect(l.waitMs).toBeGreaterThan(4000);
  });

  it('halves the rate on a 429, honours Retry-After, and grows back additively to the limit', () => {
    const limits = { rpm: 600 };
    let s = newBucket(limits, 0);
    s = applyFeedback(s, 0, limits, { throttled: 3, retryAfterMs: 2000 });
    expect(s.rpm).toBe(300);
    expect(s.throttled).toBe(3);
    expect(lease(s, 1999, limits, { requests: 1, tokensPerRequest: 1 }).granted).toBe(0);
    expect(lease(s, 1999, limits, { requests: 1, tokensPerRequest: 1 }).waitMs).toBe(1);
    expect(lease(s, 2100, limits, { requests: 1, tokensPerRequest: 1 }).granted).toBe(1);
    // +5 % of the limit per second: back at 600 after 10 s, never above.
    expect(lease(s, 5000, limits, { requests: 0, tokensPerRequest: 1 }).state.rpm).toBeCloseTo(450, 5);
    expect(lease(s, 60_000, limits, { requests: 0, tokensPerRequest: 1 }).state.rpm).toBe(600);
    // Never below limit/64, however many 429s.
    for (let i = 0; i < 20; i++) s = applyFeedback(s, 0, limits, { throttled: 1 });
    expect(s.rpm).toBeCloseTo(600 / 64, 5);
  });

  it('follows x-ratelimit headers: remaining 0 blocks the fleet until the reset', () => {
    const h = new Headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s', 'x-ratelimit-remaining-tokens': '900', 'x-ratelimit-reset-tokens': '6m0s' });
    const f = feedbackFromHeaders(h);
    expect(f).toEqual({ remainingRequests: 0, resetRequestsMs: 1500, remainingTokens: 900, resetTokensMs: 360_000 });
    const s = applyFeedback(undefined, 1000, { rpm: 600 }, f);
    expect(lease(s, 2400, { rpm: 600 }, { requests: 1, tokensPerRequest: 1 }).granted).toBe(0);
    expect(lease(s, 2600, { rpm: 600 }, { requests: 1, tokensPerRequest: 1 }).granted).toBe(1);
    expect(parseResetMs('20ms')).toBe(20);
    expect(parseResetMs('1h2m3.5s')).toBe(3_723_500);
    expect(parseResetMs('2')).toBe(2000);
    expect(parseResetMs('soon')).toBeUndefined();
    expect(parseResetMs('1s garbage')).toBeUndefined();
    // Merged feedback keeps the latest headers and adds the counts.
    const m = mergeFeedback({ throttled: 1, unused: 2, remainingRequests: 5, at: 1 }, { throttled: 1, remainingRequests: 9, at: 2 });
    expect(m).toMatchObject({ throttled: 2, unused: 2, remainingRequests: 9 });
  });

  it('takes a newer setRate override and ignores an older one; a lower limit applies at once', () => {
    const limits = { rpm: 600 };
    let s = setOverride(undefined, 0, limits, { rpm: 60, version: 2 });
    expect(s.override).toEqual({ rpm: 60, version: 2 });
    expect(s.rpm).toBe(60);
    expect(s.req).toBe(1);
    s = setOverride(s, 0, limits, { rpm: 6000, version: 1 });
    expect(s.override?.rpm).toBe(60);
    const { granted } = drain(limits, 10, 10, 1, s);
    expect(granted.length).toBeGreaterThanOrEqual(10);
    expect(granted.length).toBeLessThanOrEqual(12);
  });
});

describe('budgets', () => {
  it('add usage per persona and say which limit is reached', () => {
    let u = addRunUsage(undefined, { poet: { requests: 2, promptTokens: 100, completionTokens: 10, costUsd: 0.1 }, '': { requests: 3, promptTokens: 0, completionTokens: 0, costUsd: 0 } });
    u = addRunUsage(u, { poet: { requests: 1, promptTokens: 50, completionTokens: 5, costUsd: 0.05 } });
    expect(u).toMatchObject({ requests: 6, promptTokens: 150, completionTokens: 15 });
    expect(u.personas).toEqual({ poet: { requests: 3, promptTokens: 150, completionTokens: 15, costUsd: expect.closeTo(0.15, 10) } });
    expect(budgetReached(u, { requests: 7 })).toBeUndefined();
    expect(budgetReached(u, { requests: 6 })).toContain('6 requests');
    expect(budgetReached(u, { tokens: 165 })).toContain('165 tokens');
    expect(budgetReached(u, { usd: 0.2 })).toBeUndefined();
    expect(budgetReached(u, { usd: 0.15 })).toContain('$0.15');
    expect(requestsLeft(u, { requests: 10 })).toBe(4);
    expect(requestsLeft(u, undefined)).toBe(Infinity);
    expect(costOf(1e6, 2e6, { input: 0.15, output: 0.6 })).toBeCloseTo(1.35, 10);
  });

  it('need a price for a usd budget: an unknown model is an InputError naming the file, field and fix', () => {
    const file = join(tmpDir(), 'prices.yaml');
    writeFileSync(file, 'known: {input: 1, output: 2}\n');
    expect(priceFor(file, 'known', { usd: 1 })).toEqual({ input: 1, output: 2 });
    expect(priceFor(file, 'other', { requests: 5 })).toBeUndefined();
    const err = (() => {
      try {
        priceFor(file, 'other', { usd: 1 }, 'configs/x.yaml');
      } catch (e) {
        return e as InputError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err?.message).toContain('budget.usd');
    expect(err?.message).toContain('"other"');
    expect(err?.message).toContain(file);
    expect(err?.message).toContain('Fix:');
    writeFileSync(file, 'bad: {input: -1}\n');
    expect(() => priceFor(file, 'bad', undefined)).toThrow(/bad price entry/);
  });
});

describe('budget config', () => {
  it('is validated with the rest of the config: an unknown key or a non-positive value names the field', async () => {
    const { resolveConfig } = await import('../experiment/load.js');
    const { mmluConfig } = await import('./support/harness.js');
    const base = mmluConfig({ baseURL: 'http://127.0.0.1:9/v1', taskQueue: 'q', outDir: tmpDir(), name: 'b' });
    expect(resolveConfig({ ...base, budget: { usd: 2.5, requests: 100 } }).budget).toEqual({ usd: 2.5, requests: 100 });
    expect(() => resolveConfig({ ...base, budget: { dollars: 5 } })).toThrow(/budget/);
    expect(() => resolveConfig({ ...base, budget: { requests: 0 } })).toThrow(/budget\.requests/);
    // Not part of what identifies the results: raising it on resume keeps the run's spec hash.
    expect(resolveConfig({ ...base, budget: { requests: 5 } }).specHash).toBe(resolveConfig(base).specHash);
  });
});
