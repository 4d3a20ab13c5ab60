/** Failing a batch after keeping what it finished: the most decisive backend error decides how Temporal retries. */
import { createHash } from 'node:crypto';
import type { BackendError, PromptInput } from '../backends/types.js';

/** A batch stopped by a backend error (what it finished is already stored). */
export class BatchFailure extends Error {
  constructor(readonly backendError: BackendError) {
    super(backendError.message);
    this.name = 'BatchFailure';
  }
}

/** The most decisive of several backend errors: fatal > rate-limited (longest wait) > transient. */
export function worstError(errors: BackendError[]): BackendError {
  const fatal = errors.find((e) => e.kind === 'fatal');
  if (fatal) return fatal;
  const limited = errors.filter((e) => e.kind === 'rate_limited') as (BackendError & { retryAfterMs: number })[];
  if (limited.length) return limited.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
  return errors[0] as BackendError;
}


/** The stored prompt hash: sha256 of the text as rendered in the run's format. */
export function promptHash(p: PromptInput): string {
  return createHash('sha256').update(p.text).digest('hex');
}
