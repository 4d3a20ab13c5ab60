/** The `model:` block of the local onnxruntime backend: its one options type, with its defaults. */
import { z } from 'zod';
import { ONNX_VARIANTS } from './folder.js';

const posInt = z.number().int().positive();

/** onnxruntime execution providers a `model:` block may list (also the CLIP backend's). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export const OnnxModel = z
  .object({
    backend: z.literal('onnx'),
    /** A local model folder (Hugging Face ONNX layout) or a hub id such as onnx-community/Llama-3.2-1B-Instruct. */
    path: z.string().min(1),
    variant: z.enum(ONNX_VARIANTS).default('fp32'),
    providers: z.array(z.enum(EXECUTION_PROVIDERS)).min(1).default(['cpu']),
    max_batch: posInt.default(64),
  })
  .strict();

export type OnnxModelSpec = z.output<typeof OnnxModel>;

/** The schema's defaults, for code that builds a model without a `model:` block (LocalOnnxBackend in tests, bench). */
export const ONNX_DEFAULTS = {
  variant: OnnxModel.shape.variant.parse(undefined),
  providers: OnnxModel.shape.providers.parse(undefined),
  maxBatch: OnnxModel.shape.max_batch.parse(undefined),
} as const;
