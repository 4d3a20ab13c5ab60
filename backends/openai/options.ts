/** The `model:` block of the OpenAI-compatible backend: its one options type, with its defaults. */
import { z } from 'zod';

const posInt = z.number().int().positive();

export const OpenAIModel = z
  .object({
    backend: z.literal('openai'),
    model: z.string().min(1),
    /** Defaults to OPENAI_BASE_URL, then https://api.openai.com/v1. */
    base_url: z.string().url().optional(),
    /** The key is read from this environment variable by the worker; it never enters workflow inputs. */
    api_key_env: z.string().min(1).default('OPENAI_API_KEY'),
    concurrency: posInt.default(8),
    rpm: posInt.default(3500),
    /** Tokens (prompt + completion) per minute, shared like `rpm` by every worker using this key and model. */
    tpm: posInt.optional(),
    timeout_s: z.number().positive().default(60),
    top_logprobs: z.number().int().min(1).max(20).default(20),
  })
  .strict();

export type OpenAIModelSpec = z.output<typeof OpenAIModel>;
