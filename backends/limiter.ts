/**
 * Per-backend request limiter: bounds in-flight requests and spaces request starts evenly.
 *
 * `minTime = 60000 / rpm` is used rather than a per-minute reservoir: a reservoir lets a whole minute's budget go
 * out in one burst (which is what trips provider-side 429s), while `minTime` keeps the rate smooth.
 */
import Bottleneck from 'bottleneck';

export interface LimiterOptions {
  /** Maximum requests in flight at once (positive integer). */
  concurrency: number;
  /** Maximum request starts per minute; `Infinity` disables spacing. */
  rpm: number;
}

export class RequestLimiter {
  private readonly bottleneck: Bottleneck;
  private stopped?: Promise<void>;

  constructor(opts: LimiterOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(`limiter concurrency must be a positive integer, got ${opts.concurrency}`);
    }
    if (!(opts.rpm > 0)) throw new RangeError(`limiter rpm must be > 0, got ${opts.rpm}`);
    this.bottleneck = new Bottleneck({
      maxConcurrent: opts.concurrency,
      minTime: Number.isFinite(opts.rpm) ? Math.ceil(60_000 / opts.rpm) : 0,
    });
  }

  /**
   * Runs `fn` once a slot is free. If `signal` aborts while the job is still queued, the returned promise rejects at
   * once with `signal.reason` and `fn` never runs. Bottleneck cannot remove a queued job, so the dead job still
   * takes its (empty) turn later; that costs one `minTime` slot, which is cheap enough.
   */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!signal) return this.bottleneck.schedule(fn);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.bottleneck
        .schedule(async () => {
          if (signal.aborted) return undefined;
          return { value: await fn() };
        })
        .then(
          (r) => r && resolve(r.value),
          (err: unknown) => reject(err),
        )
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Drops queued jobs and waits for running ones; later `run` calls reject. */
  close(): Promise<void> {
    // Bottleneck throws on a second stop(); closing twice is harmless for callers.
    this.stopped ??= this.bottleneck.stop({ dropWaitingJobs: true });
    return this.stopped;
  }
}
