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

export type BackendFactory = (spec: ModelSpec) => Promise<Backend>;

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra backends by name (tests' scripted policies, benchmarks). */
  factory?: BackendFactory;
}

export class BackendRegistry {
  private readonly backends = new Map<string, Promise<Backend>>();
  constructor(private readonly opts: RegistryOptions = {}) {}

  get(spec: ModelSpec): Promise<Backend> {
    const key = stableStringify(spec);
    let b = this.backends.get(key);
    if (!b) {
      b = (this.opts.factory ?? ((s) => this.create(s)))(spec);
      // A failed load (bad model folder) must not be cached: the next attempt should see a fixed folder.
      b.catch(() => this.backends.delete(key));
      this.backends.set(key, b);
    }
    return b;
  }

  async create(spec: ModelSpec): Promise<Backend> {
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
    const { LocalOnnxBackend } = await import('../local/backend.js');
    return LocalOnnxBackend.load(spec);
  }

  async close(): Promise<void> {
    for (const b of this.backends.values()) await (await b.catch(() => undefined))?.close?.();
    this.backends.clear();
  }
}
