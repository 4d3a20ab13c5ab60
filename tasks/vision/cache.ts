/**
 * The vision task's caches shared across runs, in a folder of their own (`VisionSpec.cacheDir`, default
 * ~/.cache/rolyplaying/vision), not in the result store: runs with another LLM, prompt or CLIP are other runs (other
 * spec hash, other run folder and SQLite file), yet must reuse what does not depend on what changed.
 *
 *   images/<key>/<sha256(item id)>.f32   one image embedding (little-endian float32), key = CLIP model × data set ×
 *                                        split × preprocessing (CLIP's version and the data set's crop_bottom)
 *   llm/<sha256(model, format, request)>.json   one LLM call's output text (prompt, seed and sampling in the key)
 *
 * Every write is atomic (temporary file, then rename), so a worker killed mid-write never leaves a half entry, and
 * two workers writing the same entry write the same bytes. A cache entry is only ever an optimisation: a miss
 * recomputes; the run's own records in the store stay the source of its results.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stableStringify } from '../../experiment/load.js';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function atomicWrite(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${randomUUID()}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** What an image embedding depends on. `model` identifies the weights (folder, variant, vision file size and mtime). */
export interface ImageCacheKey {
  model: string;
  dataset: string;
  source: string;
  split: string;
  preprocess: string;
  cropBottom: number;
}

/** The model identity of a CLIP folder for the cache key: a re-exported or re-generated model gets another key. */
export function clipModelIdentity(dir: string, variant: string, visionFile: string): string {
  const st = statSync(visionFile);
  return stableStringify({ dir, variant, size: st.size, mtime: Math.round(st.mtimeMs) });
}

export class ImageEmbeddingCache {
  readonly dir: string;
  constructor(root: string, readonly key: ImageCacheKey) {
    this.dir = join(root, 'images', sha256(stableStringify(key)).slice(0, 32));
    mkdirSync(this.dir, { recursive: true });
    const meta = join(this.dir, 'key.json');
    if (!existsSync(meta)) atomicWrite(meta, `${JSON.stringify(key, null, 2)}\n`);
  }

  private file(itemId: string): string {
    return join(this.dir, `${sha256(itemId)}.f32`);
  }

  has(itemId: string): boolean {
    return existsSync(this.file(itemId));
  }

  get(itemId: string): Float32Array | undefined {
    const f = this.file(itemId);
    if (!existsSync(f)) return undefined;
    const b = readFileSync(f);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  put(itemId: string, v: Float32Array): void {
    atomicWrite(this.file(itemId), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
}

export class LlmCallCache {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'llm');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(key: unknown): string {
    return join(this.dir, `${sha256(stableStringify(key))}.json`);
  }

  get(key: unknown): string | undefined {
    const f = this.file(key);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { text: string }).text : undefined;
  }

  put(key: unknown, text: string): void {
    atomicWrite(this.file(key), JSON.stringify({ text }));
  }
}
