/**
 * Builds backends from a model spec inside a worker process, once per spec, so all activities of the process
 * share one limiter (and one onnxruntime session). Secrets come from the worker's environment, never from
 * workflow inputs.
 */
import type { ModelSpec } from '../experiment/schema.js';
import { stableStringify } from '../experiment/load.js';
import { backendNamed, type ModelBackend } from './catalog.js';
import './index.js';
import type { Backend } from './types.js';
import type { PromptFormat } from '../prompts/formats.js';

/** The prompt format matters to local models (stop tokens, BOS checks); API backends ignore it. */
export type BackendFactory = (spec: ModelSpec, format: PromptFormat) => Promise<Backend | ModelBackend>;

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra backends by name (tests' scripted policies, benchmarks). */
  factory?: BackendFactory;
}

export class BackendRegistry {
  private readonly backends = new Map<string, Promise<ModelBackend>>();
  constructor(private readonly opts: RegistryOptions = {}) {}

  get(spec: ModelSpec, format: PromptFormat = 'plain'): Promise<ModelBackend> {
    const key = stableStringify({ spec, format });
    let b = this.backends.get(key);
    if (!b) {
      b = (this.opts.factory ?? ((s, f) => this.create(s, f)))(spec, format) as Promise<ModelBackend>;
      // A failed load (bad model folder) must not be cached: the next attempt should see a fixed folder.
      b.catch(() => this.backends.delete(key));
      this.backends.set(key, b);
    }
    return b;
  }

  /** An LLM backend (option scoring and generation): the primary role of MMLU and the bandit. */
  async llm(spec: ModelSpec, format: PromptFormat = 'plain'): Promise<Backend> {
    return (await this.get(spec, format)) as Backend;
  }

  /**
   * Cheap checks before a run fans out: an API call that proves key and model, or the files of a local model
   * folder. Loading a local model is left to the workers of its own task queue (the GPU machines).
   */
  async preflight(spec: ModelSpec, format: PromptFormat): Promise<void> {
    const def = backendNamed(spec.backend);
    if (def.preflight && !this.opts.factory) return def.preflight(spec, this.context(format));
    await (await this.get(spec, format)).preflight?.();
  }

  create(spec: ModelSpec, format: PromptFormat): Promise<ModelBackend> {
    return backendNamed(spec.backend).create(spec, this.context(format));
  }

  private context(format: PromptFormat) {
    return { env: this.opts.env ?? process.env, format };
  }

  async close(): Promise<void> {
    for (const b of this.backends.values()) await (await b.catch(() => undefined))?.close?.();
    this.backends.clear();
  }
}
