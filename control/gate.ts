/**
 * The worker side of run control: every request of an API backend passes a gate that takes permits from the
 * fleet-wide bucket in the result store (control/bucket.ts) and counts usage against the run's budget
 * (control/budget.ts). Permits are leased a few at a time (one store transaction per lease, which also carries the
 * feedback and usage gathered since the last one), and a lease that is not used within LEASE_TTL_MS is given back.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyFeedback, feedbackFromHeaders, lease, mergeFeedback, setOverride, type BucketFeedback, type BucketState, type RateLimits } from './bucket.js';
import { addRunUsage, budgetReached, costOf, requestsLeft, ZERO_USAGE, addUsage, type Budget, type Price, type RunUsage, type Usage } from './budget.js';
import type { ResultStore } from '../store/types.js';
import { FatalBackendError } from '../backends/types.js';

/** Unused leased permits go back after this long (they must not pile up into a burst). */
export const LEASE_TTL_MS = 1000;
/** At most this share of a second of the rate per lease, so workers share the bucket fairly. */
const LEASE_SHARE_S = 0.25;
/** A wait longer than this is re-checked (a `throttle` may raise the rate meanwhile). */
const MAX_SLEEP_MS = 1000;

/** The budget is used, or the provider's quota: the run pauses (activities/index.ts maps it to a non-retryable type). */
export class RunPausedError extends FatalBackendError {
  constructor(message: string, readonly pauseType: 'BudgetExhausted' | 'QuotaExhausted', status?: number) {
    super(message, status);
    this.name = 'RunPausedError';
  }
}

/** The bucket's store key: a hash of base URL, API key and model. The key itself is never stored or logged. */
export function bucketKey(baseURL: string, apiKey: string, model: string): string {
  return `rate:${createHash('sha256').update(`${baseURL}\u0000${apiKey}\u0000${model}`).digest('hex').slice(0, 32)}`;
}

export function usageKey(run: string): string {
  return `usage:${run}`;
}

export interface GateSettings {
  store: ResultStore;
  bucket: string;
  run: string;
  limits: RateLimits;
  budget?: Budget;
  price?: Price;
  /** A `setRate` of the workflow, carried by the batch: written to the bucket if newer than what is there. */
  override?: { rpm?: number; tpm?: number; version: number };
}

export interface RequestOutcome {
  persona?: string;
  /** What the server reported (absent: nothing was sent, or no usage field). */
  usage?: { promptTokens: number; completionTokens: number };
  headers?: { get(name: string): string | null };
  /** A 429 with this Retry-After. */
  throttledMs?: number;
  /** Whether the request reached the server (false: aborted before sending). */
  sent: boolean;
}

/** The gate of one (bucket, run) in this process; batches of the run share it. */
export class RequestGate {
  private permits = 0;
  private expiry = 0;
  private feedback: BucketFeedback = {};
  private usage: Record<string, Usage> = {};
  private refilling?: Promise<void>;
  private waiters = 0;
  private paused?: RunPausedError;
  /** Transactions so far (to show the store round trips a lease saves). */
  transactions = 0;

  constructor(private settings: GateSettings) {}

  /** New batch input (budget raised by a resume, a new rate): takes effect at the next transaction. */
  update(s: Partial<Pick<GateSettings, 'budget' | 'override' | 'limits' | 'price'>>): void {
    if ('budget' in s) {
      const raised = JSON.stringify(s.budget) !== JSON.stringify(this.settings.budget);
      this.settings = { ...this.settings, budget: s.budget };
      if (raised) this.paused = undefined;
    }
    if (s.override && (s.override.version > (this.settings.override?.version ?? -1))) this.settings = { ...this.settings, override: s.override };
    if (s.limits) this.settings = { ...this.settings, limits: s.limits };
    if ('price' in s) this.settings = { ...this.settings, price: s.price };
  }

  /** Wait for a permit for one request; throws RunPausedError when the run's budget is used. */
  async acquire(signal?: AbortSignal): Promise<void> {
    this.waiters++;
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (this.paused) throw this.paused;
        if (this.permits > 0 && Date.now() < this.expiry) {
          this.permits--;
          return;
        }
        this.refilling ??= this.refill().finally(() => (this.refilling = undefined));
        await this.refilling;
        if (this.paused) throw this.paused;
        if (this.permits === 0) await sleep(this.nextWait, undefined, { signal });
      }
    } finally {
      this.waiters--;
    }
  }

  private nextWait = 0;
  /** Tokens per request the bucket is charged at lease time: a running mean of what the server reported. */
  private est = 200;

  /** Record a request's outcome (sent to the store with the next transaction). */
  done(o: RequestOutcome): void {
    const persona = o.persona ?? '';
    const add = (k: string, u: Usage) => (this.usage[k] = addUsage(this.usage[k] ?? ZERO_USAGE, u));
    // Requests were counted (unattributed) when leased: a sent one moves to its persona, an unsent one is given back.
    add('', { ...ZERO_USAGE, requests: -1 });
    const f: BucketFeedback = { ...feedbackFromHeaders(o.headers), at: Date.now() };
    if (o.sent) {
      const p = o.usage?.promptTokens ?? 0;
      const c = o.usage?.completionTokens ?? 0;
      add(persona, { requests: 1, promptTokens: p, completionTokens: c, costUsd: costOf(p, c, this.settings.price) });
      if (o.usage) {
        f.tokenDelta = p + c - this.est;
        this.est = Math.max(1, Math.round(0.8 * this.est + 0.2 * (p + c)));
      }
    } else {
      f.unused = 1;
    }
    if (o.throttledMs !== undefined) {
      f.throttled = 1;
      f.retryAfterMs = o.throttledMs;
    }
    this.feedback = mergeFeedback(this.feedback, f);
  }

  private async refill(): Promise<void> {
    const unused = Date.now() >= this.expiry ? this.permits : 0;
    if (unused) this.permits = 0;
    const feedback = mergeFeedback(this.feedback, unused ? { unused } : {});
    const usage = this.usage;
    // Unused expired permits were counted as requests: give them back to the budget too.
    if (unused) usage[''] = addUsage(usage[''] ?? ZERO_USAGE, { ...ZERO_USAGE, requests: -unused });
    this.feedback = {};
    this.usage = {};
    const { store, bucket, run, limits, budget, override } = this.settings;
    const want = Math.max(1, Math.min(this.waiters, Math.ceil((effectiveRpm(limits, override) * LEASE_SHARE_S) / 60)));
    this.transactions++;
    let result: { granted: number; waitMs: number; reached?: string };
    try {
      result = await store.updateControl<{ granted: number; waitMs: number; reached?: string }>([bucket, usageKey(run)], ([b, u], now) => {
        let state = b as BucketState | undefined;
        if (override) state = setOverride(state, now, limits, override);
        state = applyFeedback(state, now, limits, feedback);
        let runUsage = addRunUsage(u as RunUsage | undefined, usage);
        const reached = budgetReached(runUsage, budget);
        if (reached) return { states: [state, runUsage], result: { granted: 0, waitMs: 0, reached } };
        const ask = Math.min(want, requestsLeft(runUsage, budget));
        const l = lease(state, now, limits, { requests: ask, tokensPerRequest: this.est });
        if (l.granted > 0) runUsage = addRunUsage(runUsage, { '': { ...ZERO_USAGE, requests: l.granted } });
        return { states: [l.state, runUsage], result: { granted: l.granted, waitMs: l.waitMs } };
      });
    } catch (err) {
      // Nothing was written: keep what was gathered for the next transaction.
      this.feedback = mergeFeedback(feedback, this.feedback);
      for (const [k, v] of Object.entries(usage)) this.usage[k] = addUsage(this.usage[k] ?? ZERO_USAGE, v);
      throw err;
    }
    if (result.reached) {
      this.paused = new RunPausedError(`run ${run} paused: ${result.reached}. Stored results are kept; \`rolyplay resume ${run}\` (optionally with a higher --budget-…) continues it`, 'BudgetExhausted');
      return;
    }
    this.permits += result.granted;
    if (result.granted > 0) this.expiry = Date.now() + LEASE_TTL_MS;
    this.nextWait = Math.min(MAX_SLEEP_MS, Math.max(1, result.waitMs));
  }

  /** At the end of a batch: give back unused permits and write the usage gathered (one transaction). */
  async flush(): Promise<void> {
    const unused = this.permits;
    this.permits = 0;
    const usage = this.usage;
    if (unused) usage[''] = addUsage(usage[''] ?? ZERO_USAGE, { ...ZERO_USAGE, requests: -unused });
    const feedback = mergeFeedback(this.feedback, unused ? { unused } : {});
    this.feedback = {};
    this.usage = {};
    if (Object.keys(usage).length === 0 && !unused && !feedback.throttled && !feedback.tokenDelta) return;
    const { store, bucket, run, limits } = this.settings;
    this.transactions++;
    await store.updateControl([bucket, usageKey(run)], ([b, u], now) => ({
      states: [applyFeedback(b as BucketState | undefined, now, limits, feedback), addRunUsage(u as RunUsage | undefined, usage)],
      result: undefined,
    }));
  }
}

function effectiveRpm(limits: RateLimits, override?: { rpm?: number }): number {
  return override?.rpm ?? limits.rpm;
}

/** The usage of a run so far (status, metrics.json). */
export async function readUsage(store: ResultStore, run: string): Promise<RunUsage | undefined> {
  return (await store.readControl(usageKey(run))) as RunUsage | undefined;
}
