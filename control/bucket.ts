/**
 * The fleet-wide rate limit as plain math: one token bucket per (base URL, API key, model), kept in the result store
 * and changed only inside one store transaction (`ResultStore.updateControl`). Two currencies: requests (rpm) and
 * tokens (tpm, optional). The rate adapts by AIMD: a 429 halves it, and it grows back linearly with time up to the
 * configured (or `setRate`) limit. Server headers (`x-ratelimit-remaining-*` = 0 with `x-ratelimit-reset-*`, and
 * `Retry-After`) block the whole fleet until the time the server named. No I/O and no clock here: `now` is passed in.
 */

export interface RateLimits {
  /** Requests per minute. */
  rpm: number;
  /** Tokens (prompt + completion) per minute; undefined: not limited. */
  tpm?: number;
}

export interface BucketState {
  v: 1;
  /** Time of the last refill, ms since the epoch (the store's clock). */
  t: number;
  /** Request tokens available now (fractional). */
  req: number;
  /** Token tokens available now; may be negative (debt of requests that used more than estimated). */
  tok: number;
  /** Current (adapted) rates, ≤ the limits. */
  rpm: number;
  tpm?: number;
  /** Nothing is granted before this time (Retry-After, a reset header). */
  blockedUntil: number;
  /** Limits set while the run goes (`rolyplay throttle`): they win over the config's; the highest version wins. */
  override?: { rpm?: number; tpm?: number; version: number };
  /** 429s seen (for status and tests). */
  throttled: number;
}

/** The bucket holds at most this many seconds of rate: the burst a fleet may send after a quiet spell. */
export const BURST_S = 1;
/** Additive increase: the rate grows back by this fraction of the limit per second without a 429. */
export const INCREASE_PER_S = 0.05;
/** Multiplicative decrease on a 429. */
export const DECREASE = 0.5;
/** The adapted rate never drops below limit / MIN_FRACTION_DIV. */
export const MIN_FRACTION_DIV = 64;

export function effectiveLimits(configured: RateLimits, s: BucketState | undefined): RateLimits {
  const o = s?.override;
  const rpm = o?.rpm ?? configured.rpm;
  const tpm = o?.tpm ?? configured.tpm;
  return tpm !== undefined ? { rpm, tpm } : { rpm };
}

export function newBucket(limits: RateLimits, now: number): BucketState {
  return {
    v: 1,
    t: now,
    req: capacity(limits.rpm),
    tok: limits.tpm !== undefined ? capacity(limits.tpm) : 0,
    rpm: limits.rpm,
    ...(limits.tpm !== undefined ? { tpm: limits.tpm } : {}),
    blockedUntil: 0,
    throttled: 0,
  };
}

function capacity(perMinute: number): number {
  return Math.max(1, (perMinute * BURST_S) / 60);
}

/** Refill for the time since `s.t`, grow the adapted rate back towards the limits, and clamp to them. */
export function refill(s: BucketState, now: number, limits: RateLimits): BucketState {
  const dt = Math.max(0, now - s.t) / 1000;
  const grow = (cur: number | undefined, lim: number) => Math.min(lim, Math.max(lim / MIN_FRACTION_DIV, (cur ?? lim) + lim * INCREASE_PER_S * dt));
  // Tokens accrue at the rate before this step's increase (the rate in force during the interval).
  const rpmBefore = Math.min(s.rpm, limits.rpm);
  const next: BucketState = { ...s, t: Math.max(s.t, now), req: Math.min(capacity(limits.rpm), s.req + (rpmBefore * dt) / 60), rpm: grow(s.rpm, limits.rpm) };
  if (limits.tpm !== undefined) {
    const tpmBefore = Math.min(s.tpm ?? limits.tpm, limits.tpm);
    next.tok = Math.min(capacity(limits.tpm), s.tok + (tpmBefore * dt) / 60);
    next.tpm = grow(s.tpm, limits.tpm);
  } else {
    delete next.tpm;
    next.tok = 0;
  }
  return next;
}

export interface LeaseAsk {
  /** Requests wanted (the caller's queue length, capped by the caller). */
  requests: number;
  /** Estimated tokens per request (prompt + max completion). */
  tokensPerRequest: number;
}

export interface LeaseResult {
  state: BucketState;
  /** Requests granted now (0..ask.requests); their tokens are already taken from the bucket. */
  granted: number;
  /** When granted is 0: how long to wait before asking again, ms. */
  waitMs: number;
}

/** Take up to `ask.requests` from the bucket (after a refill). */
export function lease(prev: BucketState | undefined, now: number, configured: RateLimits, ask: LeaseAsk): LeaseResult {
  const limits = effectiveLimits(configured, prev);
  const s = refill(prev ?? newBucket(limits, now), now, limits);
  if (now < s.blockedUntil) return { state: s, granted: 0, waitMs: s.blockedUntil - now };
  let granted = Math.min(Math.max(0, Math.floor(ask.requests)), Math.floor(s.req + 1e-9));
  if (limits.tpm !== undefined) {
    // A request is let through while the token balance is positive, so one larger than the bucket still goes.
    const perReq = Math.max(1, ask.tokensPerRequest);
    granted = Math.min(granted, s.tok > 0 ? Math.ceil(s.tok / perReq) : 0);
  }
  if (granted > 0) {
    s.req -= granted;
    if (limits.tpm !== undefined) s.tok -= granted * Math.max(1, ask.tokensPerRequest);
    return { state: s, granted, waitMs: 0 };
  }
  const rpmNow = Math.max(s.rpm, 1e-9);
  let wait = ((1 - s.req) * 60_000) / rpmNow;
  if (limits.tpm !== undefined && s.tok <= 0) wait = Math.max(wait, ((1 - s.tok) * 60_000) / Math.max(s.tpm ?? limits.tpm, 1e-9));
  return { state: s, granted: 0, waitMs: Math.max(1, Math.ceil(wait)) };
}

/** What happened to requests since the last transaction, folded into the bucket. */
export interface BucketFeedback {
  /** Requests leased but not sent (their lease expired, or the batch ended): given back. */
  unused?: number;
  /** Tokens used beyond (positive) or below (negative) the estimates taken at lease time. */
  tokenDelta?: number;
  /** 429s seen, and the longest Retry-After among them (ms). */
  throttled?: number;
  retryAfterMs?: number;
  /** The smallest remaining counts and the latest reset times the server's headers announced (ms from `at`). */
  remainingRequests?: number;
  resetRequestsMs?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
  /** When the feedback was observed (ms, the worker's clock; only used as a relative base). */
  at?: number;
}

export function applyFeedback(prev: BucketState | undefined, now: number, configured: RateLimits, f: BucketFeedback): BucketState {
  const limits = effectiveLimits(configured, prev);
  const s = refill(prev ?? newBucket(limits, now), now, limits);
  if (f.unused) s.req = Math.min(capacity(limits.rpm), s.req + f.unused);
  if (f.tokenDelta && limits.tpm !== undefined) s.tok = Math.min(capacity(limits.tpm), s.tok - f.tokenDelta);
  if (f.throttled) {
    // One halving per transaction, however many 429s it reports: they were one overload.
    s.rpm = Math.max(limits.rpm / MIN_FRACTION_DIV, s.rpm * DECREASE);
    if (limits.tpm !== undefined) s.tpm = Math.max(limits.tpm / MIN_FRACTION_DIV, (s.tpm ?? limits.tpm) * DECREASE);
    s.req = Math.min(s.req, 0);
    s.throttled += f.throttled;
    if (f.retryAfterMs) s.blockedUntil = Math.max(s.blockedUntil, now + f.retryAfterMs);
  }
  if (f.remainingRequests !== undefined) {
    s.req = Math.min(s.req, f.remainingRequests);
    if (f.remainingRequests <= 0 && f.resetRequestsMs !== undefined) s.blockedUntil = Math.max(s.blockedUntil, now + f.resetRequestsMs);
  }
  if (f.remainingTokens !== undefined && limits.tpm !== undefined) {
    s.tok = Math.min(s.tok, f.remainingTokens);
    if (f.remainingTokens <= 0 && f.resetTokensMs !== undefined) s.blockedUntil = Math.max(s.blockedUntil, now + f.resetTokensMs);
  }
  return s;
}

/** `rolyplay throttle --rpm`: a newer version replaces the override; an older one (a late batch) changes nothing. */
export function setOverride(prev: BucketState | undefined, now: number, configured: RateLimits, o: { rpm?: number; tpm?: number; version: number }): BucketState {
  if (prev?.override && prev.override.version >= o.version) return prev;
  const base = prev ?? newBucket(effectiveLimits(configured, undefined), now);
  const withOverride: BucketState = { ...base, override: { ...(o.rpm !== undefined ? { rpm: o.rpm } : {}), ...(o.tpm !== undefined ? { tpm: o.tpm } : {}), version: o.version } };
  const limits = effectiveLimits(configured, withOverride);
  const s = refill(withOverride, now, limits);
  // A lower limit applies at once (no leftover burst of the old one).
  s.rpm = Math.min(s.rpm, limits.rpm);
  s.req = Math.min(s.req, capacity(limits.rpm));
  return s;
}

/** Durations of `x-ratelimit-reset-*` ("1s", "6m0s", "20ms", "1h2m3.5s", or bare seconds) in ms; undefined if unparsable. */
export function parseResetMs(value: string | null | undefined): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
    matched += m[0];
  }
  return matched === v ? Math.ceil(total) : undefined;
}

/** The rate-limit headers of one response, as bucket feedback. */
export function feedbackFromHeaders(headers: { get(name: string): string | null } | undefined): BucketFeedback {
  if (!headers) return {};
  const num = (name: string) => {
    const n = Number.parseFloat(headers.get(name) ?? '');
    return Number.isFinite(n) ? n : undefined;
  };
  const f: BucketFeedback = {};
  const rr = num('x-ratelimit-remaining-requests');
  const rt = num('x-ratelimit-remaining-tokens');
  const resetR = parseResetMs(headers.get('x-ratelimit-reset-requests'));
  const resetT = parseResetMs(headers.get('x-ratelimit-reset-tokens'));
  if (rr !== undefined) f.remainingRequests = rr;
  if (rt !== undefined) f.remainingTokens = rt;
  if (resetR !== undefined) f.resetRequestsMs = resetR;
  if (resetT !== undefined) f.resetTokensMs = resetT;
  return f;
}

/** Fold two feedbacks of one worker into one (what a transaction sends). */
export function mergeFeedback(a: BucketFeedback, b: BucketFeedback): BucketFeedback {
  const out: BucketFeedback = {
    unused: (a.unused ?? 0) + (b.unused ?? 0),
    tokenDelta: (a.tokenDelta ?? 0) + (b.tokenDelta ?? 0),
    throttled: (a.throttled ?? 0) + (b.throttled ?? 0),
  };
  const max = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.max(x, y));
  const min = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const ra = max(a.retryAfterMs, b.retryAfterMs);
  if (ra !== undefined) out.retryAfterMs = ra;
  // The latest headers describe the server's state best.
  const latest = (b.at ?? 0) >= (a.at ?? 0) ? b : a;
  for (const k of ['remainingRequests', 'resetRequestsMs', 'remainingTokens', 'resetTokensMs'] as const) {
    const v = latest[k] ?? (k.startsWith('remaining') ? min(a[k], b[k]) : max(a[k], b[k]));
    if (v !== undefined) out[k] = v;
  }
  const at = max(a.at, b.at);
  if (at !== undefined) out.at = at;
  return out;
}
