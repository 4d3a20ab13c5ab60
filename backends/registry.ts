/**
 * Builds backends from a model spec inside a worker process, once per spec, so all activities of the process
 * share one limiter (and one onnxruntime session). Secrets come from the worker's environment, never from
 * workflow inputs.
 */
import type { ModelSpec } from '../experiment/schema.js';
import { InputError } from '../experiment/errors.js';
import { stableStringify } from '../experiment/load.js';
import { OpenAIBackend } from './openai.js';
import type { Backend } from './types.js';
import type { PromptFormat } from '../prompts/formats.js';
import { existsSync } from 'node:fs';

/** The prompt format matters to local models (stop tokens, BOS checks); API backends ignore it. */
export type BackendFactory = (spec: ModelSpec, format: PromptFormat) => Promise<Backend>;

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra backends by name (tests' scripted policies, benchmarks). */
  factory?: BackendFactory;
}

export class BackendRegistry {
  private readonly backends = new Map<string, Promise<Backend>>();
  constructor(private readonly opts: RegistryOptions = {}) {}

  get(spec: ModelSpec, format: PromptFormat = 'plain'): Promise<Backend> {
    const key = stableStringify({ spec, format });
    let b = this.backends.get(key);
    if (!b) {
      b = (this.opts.factory ?? ((s, f) => this.create(s, f)))(spec, format);
      // A failed load (bad model folder) must not be cached: the next attempt should see a fixed folder.
      b.catch(() => this.backends.delete(key));
      this.backends.set(key, b);
    }
    return b;
  }

  /**
   * Cheap checks before a run fans out: an API call that proves key and model, or the files of a local model
   * folder. Loading a local model is left to the workers of its own task queue (the GPU machines).
   */
  async preflight(spec: ModelSpec, format: PromptFormat): Promise<void> {
    if (spec.backend === 'onnx' && !this.opts.factory) {
      const { checkFolderFiles, findOnnxFile } = await import('./onnx/folder.js');
      if (!existsSync(spec.path)) return; // a hub id: downloaded by the worker that loads it
      checkFolderFiles(spec.path);
      findOnnxFile(spec.path, spec.variant);
      return;
    }
    await (await this.get(spec, format)).preflight?.();
  }

  async create(spec: ModelSpec, format: PromptFormat): Promise<Backend> {
    const env = this.opts.env ?? process.env;
    if (spec.backend === 'openai') {
      const apiKey = env[spec.api_key_env];
      if (!apiKey) {
        throw new InputError('model.api_key_env', `environment variable ${spec.api_key_env} is not set on the worker`, `export ${spec.api_key_env}=<your key> where the worker runs (for a keyless local server any non-empty value works)`);
      }
      return new OpenAIBackend({
        baseURL: spec.base_url ?? env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
        model: spec.model,
        apiKey,
        concurrency: spec.concurrency,
        rpm: spec.rpm,
        timeoutMs: Math.round(spec.timeout_s * 1000),
        topLogprobs: spec.top_logprobs,
      });
    }
    // In a thread of its own: a forward pass must not stop this thread's heartbeats and workflow tasks.
    const { ThreadedBackend } = await import('./onnx/thread.js');
    const backend = new ThreadedBackend({ path: spec.path, variant: spec.variant, providers: spec.providers, maxBatch: spec.max_batch }, format);
    await backend.preflight(); // load now, so a bad model folder fails this batch at once
    return backend;
  }

  async close(): Promise<void> {
    for (const b of this.backends.values()) await (await b.catch(() => undefined))?.close?.();
    this.backends.clear();
  }
}
