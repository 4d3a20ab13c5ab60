/**
 * The two onnxruntime sessions of a CLIP model (text, vision), in this thread or in a worker thread.
 * onnxruntime-node's `session.run` holds its thread for the whole pass (its async `run` is a setImmediate around a
 * synchronous call), so a vision batch on the main thread would stall heartbeats and queries of the same process:
 * `thread: true` (the default) runs the sessions in a worker and moves tensors by transfer, not copy; images are
 * preprocessed there too (the bicubic resize costs ~15 ms an image), so the calling thread only posts messages.
 * This module is also the worker's entry point.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { FatalBackendError } from '../types.js';
import { createSession, type ExecutionProvider } from '../onnx/model.js';
import type { RgbImage } from '../capabilities.js';
import type { ClipVariant } from './options.js';
import { preprocessImage, type PreprocessConfig } from './preprocess.js';

export type ClipPart = 'text' | 'vision';

export interface SessionSpec {
  files: Record<ClipPart, string>;
  variant: ClipVariant;
  providers: ExecutionProvider[];
}

export type Feed = { type: 'int64'; dims: number[]; data: BigInt64Array } | { type: 'float32'; dims: number[]; data: Float32Array };
export interface Fetched {
  dims: number[];
  data: Float32Array;
}
export interface PartIO {
  inputs: readonly string[];
  outputs: readonly string[];
  /** Element type per tensor name (e.g. int64, float32, float16). */
  types: Record<string, string>;
}

export interface ClipSessions {
  io(): Promise<Record<ClipPart, PartIO>>;
  /** Runs `part` on `feeds` and returns the float32 output `output`. */
  run(part: ClipPart, feeds: Record<string, Feed>, output: string): Promise<Fetched>;
  /**
   * Preprocesses `images` and runs the vision model on them as one batch; errors name the image by its index in the
   * caller's list (`first` + position).
   */
  runImages(images: RgbImage[], cfg: PreprocessConfig, output: string, first?: number): Promise<Fetched>;
  close(): Promise<void>;
}

/** Sessions in this thread; one run at a time (a pass already uses every core). */
export class LocalSessions implements ClipSessions {
  private sessions?: Promise<Record<ClipPart, ort.InferenceSession>>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly spec: SessionSpec) {}

  private load(): Promise<Record<ClipPart, ort.InferenceSession>> {
    this.sessions ??= (async () => {
      const text = await createSession(this.spec.files.text, this.spec.providers, this.spec.variant);
      const vision = await createSession(this.spec.files.vision, this.spec.providers, this.spec.variant);
      return { text, vision };
    })();
    return this.sessions;
  }

  async io(): Promise<Record<ClipPart, PartIO>> {
    const s = await this.load();
    const io = (x: ort.InferenceSession): PartIO => ({
      inputs: x.inputNames,
      outputs: x.outputNames,
      types: Object.fromEntries(
        [...x.inputMetadata, ...x.outputMetadata].map((m) => [m.name, m.isTensor ? m.type : 'non-tensor']),
      ),
    });
    return { text: io(s.text), vision: io(s.vision) };
  }

  run(part: ClipPart, feeds: Record<string, Feed>, output: string): Promise<Fetched> {
    const go = async () => {
      const session = (await this.load())[part];
      const tensors = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]));
      const out = await session.run(tensors, [output]);
      const t = out[output]!;
      if (t.type !== 'float32') throw new FatalBackendError(`${this.spec.files[part]}: output ${output} is ${t.type}, not float32`);
      // A copy: onnxruntime may own the output's memory, which then cannot be transferred to another thread.
      return { dims: [...t.dims], data: new Float32Array(t.data as Float32Array) };
    };
    const run = this.queue.then(go, go);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async runImages(images: RgbImage[], cfg: PreprocessConfig, output: string, first = 0): Promise<Fetched> {
    const pixels = images.map((img, i) => {
      try {
        return preprocessImage(img, cfg);
      } catch (e) {
        throw new FatalBackendError(`image ${first + i}: ${(e as Error).message}`);
      }
    });
    const { width, height } = pixels[0]!;
    const plane = 3 * width * height;
    const data = new Float32Array(pixels.length * plane);
    pixels.forEach((p, j) => data.set(p.data, j * plane));
    return this.run('vision', { pixel_values: { type: 'float32', dims: [pixels.length, 3, height, width], data } }, output);
  }

  async close(): Promise<void> {
    const s = await this.sessions?.catch(() => undefined);
    this.sessions = undefined;
    if (s) await Promise.all([s.text.release(), s.vision.release()]);
  }
}

const THREAD_MARK = 'rolyplayClipThread';

interface Request {
  id: number;
  method: 'io' | 'run' | 'images';
  part?: ClipPart;
  feeds?: Record<string, Feed>;
  images?: RgbImage[];
  preprocess?: PreprocessConfig;
  first?: number;
  output?: string;
}
interface Response {
  id: number;
  value?: unknown;
  error?: { message: string; name: string };
}

/** The compiled module is what the worker runs (under vitest the source is TypeScript). */
function threadEntry(): string {
  const here = new URL(import.meta.url).pathname;
  if (here.endsWith('.js')) return here;
  const dist = join(here, '..', '..', '..', 'dist', 'backends', 'clip', 'sessions.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first`);
  return dist;
}

/** The same sessions in a worker thread. */
export class ThreadSessions implements ClipSessions {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (r: Response) => void>();
  private ids = 0;
  /** Why the worker is gone: later calls fail at once instead of waiting for an answer that never comes. */
  private dead?: string;

  constructor(spec: SessionSpec) {
    this.worker = new Worker(threadEntry(), { workerData: { spec, [THREAD_MARK]: true } });
    this.worker.on('message', (r: Response) => {
      this.pending.get(r.id)?.(r);
      this.pending.delete(r.id);
      if (this.pending.size === 0) this.worker.unref();
    });
    this.worker.on('error', (err) => {
      this.dead = `CLIP session thread died: ${err.message}`;
      for (const resolve of this.pending.values()) resolve({ id: -1, error: { name: 'FatalBackendError', message: this.dead } });
      this.pending.clear();
    });
    this.worker.unref();
  }

  private async call(req: Omit<Request, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.dead) throw new FatalBackendError(this.dead);
    const id = ++this.ids;
    const r = await new Promise<Response>((resolve) => {
      this.pending.set(id, resolve);
      this.worker.ref();
      this.worker.postMessage({ ...req, id }, transfer);
    });
    if (r.error) throw r.error.name === 'ModelFolderError' || r.error.name === 'FatalBackendError' ? new FatalBackendError(r.error.message) : new Error(r.error.message);
    return r.value;
  }

  io(): Promise<Record<ClipPart, PartIO>> {
    return this.call({ method: 'io' }) as Promise<Record<ClipPart, PartIO>>;
  }

  run(part: ClipPart, feeds: Record<string, Feed>, output: string): Promise<Fetched> {
    const transfer = Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer);
    return this.call({ method: 'run', part, feeds, output }, transfer) as Promise<Fetched>;
  }

  /** The images are copied (structured clone), not transferred: the caller keeps its buffers. */
  runImages(images: RgbImage[], cfg: PreprocessConfig, output: string, first = 0): Promise<Fetched> {
    return this.call({ method: 'images', images, preprocess: cfg, output, first }) as Promise<Fetched>;
  }

  async close(): Promise<void> {
    this.dead ??= 'CLIP sessions are closed';
    await this.worker.terminate();
  }
}

function serve(): void {
  const local = new LocalSessions((workerData as { spec: SessionSpec }).spec);
  parentPort!.on('message', (req: Request) => {
    // Inside a promise chain, so that a synchronous throw becomes an answer instead of killing the thread.
    const work = Promise.resolve().then((): Promise<unknown> =>
      req.method === 'io'
        ? local.io()
        : req.method === 'images'
          ? local.runImages(req.images!, req.preprocess!, req.output!, req.first)
          : local.run(req.part!, req.feeds!, req.output!),
    );
    work.then(
      (value) => {
        const transfer = req.method === 'io' ? [] : [(value as Fetched).data.buffer as ArrayBuffer];
        parentPort!.postMessage({ id: req.id, value } satisfies Response, transfer);
      },
      (e: Error) => parentPort!.postMessage({ id: req.id, error: { name: e.name, message: e.message } } satisfies Response),
    );
  });
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | undefined)?.[THREAD_MARK]) serve();
