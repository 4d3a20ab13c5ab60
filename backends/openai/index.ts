/** The OpenAI-compatible HTTP backend (OpenAI, vLLM, llama.cpp, Ollama, ...), registered as `backend: openai`. */
import { InputError } from '../../experiment/errors.js';
import type { BackendDefinition } from '../catalog.js';
import { OpenAIModel, type OpenAIModelSpec } from './options.js';

export const openaiBackend: BackendDefinition<OpenAIModelSpec> = {
  name: 'openai',
  options: OpenAIModel,
  capabilities: ['OptionScorer', 'Generator'],
  local: false,
  label: (o) => `openai:${o.model}`,
  async create(o, { env }) {
    const apiKey = env[o.api_key_env];
    if (!apiKey) {
      throw new InputError('model.api_key_env', `environment variable ${o.api_key_env} is not set on the worker`, `export ${o.api_key_env}=<your key> where the worker runs (for a keyless local server any non-empty value works)`);
    }
    const { OpenAIBackend } = await import('./backend.js');
    return new OpenAIBackend({
      baseURL: o.base_url ?? env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      model: o.model,
      apiKey,
      concurrency: o.concurrency,
      rpm: o.rpm,
      timeoutMs: Math.round(o.timeout_s * 1000),
      topLogprobs: o.top_logprobs,
    });
  },
};
