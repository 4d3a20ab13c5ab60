/**
 * Runs local models in a worker thread. onnxruntime-node's `session.run` holds the calling thread for a whole forward
 * pass, so on the main thread a long pass would stop activity heartbeats, workflow tasks and progress queries of the
 * same process. The main thread keeps a `ThreadedBackend` proxy; this module is also the thread's entry point.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  FatalBackendError,
  RateLimitedError,
  TransientBackendError,
  type Backend,
  type BackendError,
  type GenerateRequest,
  type GenerateResult,
  type OptionScore,
  type OptionScoreRequest,
  type Outcome,
} from '../types.js';
import type { PromptFormat } from '../../prompts/formats.js';
import type { OnnxVariant } from './folder.js';
import type { ExecutionProvider } from './model.js';

export interface ThreadedOptions {
  path: string;
  variant: OnnxVariant;
  providers: ExecutionProvider[];
  maxBatch?: number;
}

/** Marks the threads this module starts, so importing it in some other thread starts nothing. */
const THREAD_MARK = 'rolyplayLocalModelThread';

type Method = 'preflight' | 'scoreOptions' | 'generate';
interface Request {
  id: number;
  method: Method;
  format: PromptFormat;
  requests?: unknown[];
}
interface WireError {
  kind: BackendError['kind'] | 'other';
  message: string;
  status?: number;
  retryAfterMs?: number;
}
type WireOutcome = { ok: true; value: unknown } | { ok: false; error: WireError };
interface Response {
  id: number;
  outcomes?: WireOutcome[];
  error?: WireError;
}

function toWire(e: unknown): WireError {
  const err = e as BackendError & { status?: number; retryAfterMs?: number };
  return { kind: err?.kind ?? 'other', message: err?.message ?? String(e), status: err?.status, retryAfterMs: err?.retryAfterMs };
}

function fromWire(w: WireError): Error {
  switch (w.kind) {
    case 'fatal':
      return new FatalBackendError(w.message, w.status);
    case 'rate_limited':
      return new RateLimitedError(w.message, w.retryAfterMs ?? 0);
    case 'transient':
      return new TransientBackendError(w.message);
    default:
      return new Error(w.message);
  }
}

/** The compiled module is what the thread runs (under vitest the source is TypeScript). */
function threadEntry(): string {
  const here = new URL(import.meta.url).pathname;
  if (here.endsWith('.js')) return here;
  const dist = join(here, '..', '..', '..', 'dist', 'backends', 'onnx', 'thread.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first`);
  return dist;
}

let requestIds = 0;

/** One thread (one onnxruntime session) per model path, variant and providers, shared by every format. */
const threads = new Map<string, { worker: Worker; pending: Map<number, (r: Response) => void>; users: number }>();

export class ThreadedBackend implements Backend {
  readonly id: string;
  private readonly key: string;

  constructor(private readonly opts: ThreadedOptions, private readonly format: PromptFormat) {
    this.key = JSON.stringify([opts.path, opts.variant, opts.providers, opts.maxBatch]);
    this.id = `onnx:${opts.path.split('/').filter(Boolean).pop()}:${opts.variant}`;
    let t = threads.get(this.key);
    if (!t) {
      const worker = new Worker(threadEntry(), { workerData: { ...opts, [THREAD_MARK]: true } });
      const pending = new Map<number, (r: Response) => void>();
      worker.on('message', (r: Response) => {
        pending.get(r.id)?.(r);
        pending.delete(r.id);
        // An idle thread must not keep the process alive; one with work in flight must.
        if (pending.size === 0) worker.unref();
      });
      worker.on('error', (err) => {
        for (const resolve of pending.values()) resolve({ id: -1, error: { kind: 'fatal', message: `local model thread died: ${err.message}` } });
        pending.clear();
        threads.delete(this.key);
      });
      worker.unref();
      t = { worker, pending, users: 0 };
      threads.set(this.key, t);
    }
    t.users++;
  }

  private call(method: Method, requests?: unknown[], signal?: AbortSignal): Promise<Response> {
    const t = threads.get(this.key);
    if (!t) return Promise.reject(new FatalBackendError(`local model thread for ${this.opts.path} is gone`));
    const id = ++requestIds;
    return new Promise<Response>((resolve, reject) => {
      // The pass itself cannot be interrupted: an abort only stops waiting for it.
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      t.pending.set(id, (r) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      });
      t.worker.ref();
      t.worker.postMessage({ id, method, format: this.format, requests } satisfies Request);
    });
  }

  private async outcomes<T>(method: Method, requests: unknown[], signal?: AbortSignal): Promise<Outcome<T>[]> {
    const r = await this.call(method, requests, signal);
    if (r.error) throw fromWire(r.error);
    return (r.outcomes ?? []).map((o) => (o.ok ? { ok: true, value: o.value as T } : { ok: false, error: fromWire(o.error) as BackendError }));
  }

  async preflight(): Promise<void> {
    const r = await this.call('preflight');
    if (r.error) throw fromWire(r.error);
  }

  scoreOptions(requests: OptionScoreRequest[], signal?: AbortSignal): Promise<Outcome<OptionScore>[]> {
    return this.outcomes('scoreOptions', requests, signal);
  }

  generate(requests: GenerateRequest[], signal?: AbortSignal): Promise<Outcome<GenerateResult>[]> {
    return this.outcomes('generate', requests, signal);
  }

  async close(): Promise<void> {
    const t = threads.get(this.key);
    if (!t || --t.users > 0) return;
    threads.delete(this.key);
    await t.worker.terminate();
  }
}

/** Thread side: one LocalOnnxBackend per prompt format, all sharing the thread's session. */
async function serve(): Promise<void> {
  const { LocalOnnxBackend } = await import('./backend.js');
  const opts = workerData as ThreadedOptions;
  const backends = new Map<PromptFormat, InstanceType<typeof LocalOnnxBackend>>();
  const backendFor = (format: PromptFormat) => {
    let b = backends.get(format);
    if (!b) {
      b = new LocalOnnxBackend({ path: opts.path, variant: opts.variant, executionProviders: opts.providers, maxBatch: opts.maxBatch, format });
      backends.set(format, b);
    }
    return b;
  };
  // One request at a time, in arrival order: the only serialisation of local-model work (LocalOnnxBackend has none).
  let queue = Promise.resolve();
  parentPort!.on('message', (req: Request) => {
    queue = queue.then(async () => {
      let res: Response;
      try {
        const b = backendFor(req.format);
        if (req.method === 'preflight') {
          await b.preflight();
          res = { id: req.id, outcomes: [] };
        } else {
          const out = await (req.method === 'scoreOptions' ? b.scoreOptions(req.requests as OptionScoreRequest[]) : b.generate(req.requests as GenerateRequest[]));
          res = { id: req.id, outcomes: out.map((o): WireOutcome => (o.ok ? o : { ok: false, error: toWire(o.error) })) };
        }
      } catch (e) {
        res = { id: req.id, error: toWire(e) };
      }
      parentPort!.postMessage(res);
    });
  });
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | undefined)?.[THREAD_MARK]) void serve();
