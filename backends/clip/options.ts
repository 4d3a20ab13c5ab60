/**
 * The `model:` block of a CLIP model (backend: clip), with its defaults written once here. Plain zod: the experiment
 * schema builds its model union from per-backend schemas like this one.
 */
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../onnx/options.js';

/** Variants of the hub's CLIP exports (Xenova/clip-vit-base-patch32: onnx/text_model{,_fp16,_quantized}.onnx). */
export const CLIP_VARIANTS = ['fp32', 'fp16', 'int8'] as const;
export type ClipVariant = (typeof CLIP_VARIANTS)[number];

const posInt = z.number().int().positive();

export const ClipModel = z
  .object({
    backend: z.literal('clip'),
    /** A local folder in the hub's CLIP ONNX layout, or a hub id such as Xenova/clip-vit-base-patch32. */
    path: z.string().min(1),
    variant: z.enum(CLIP_VARIANTS).default('fp32'),
    providers: z.array(z.enum(EXECUTION_PROVIDERS)).min(1).default(['cpu']),
    /** Most texts per text-model pass. */
    text_batch: posInt.default(64),
    /** Most images per vision-model pass (ViT-B/32 costs ~4.4 GFLOPs an image: 16 keep a pass near a second on 2 cores). */
    image_batch: posInt.default(16),
    /** Run the sessions in a worker thread, so a long pass does not block heartbeats of the same process. */
    thread: z.boolean().default(true),
  })
  .strict();

export type ClipModelConfig = z.output<typeof ClipModel>;
export type ClipModelInput = z.input<typeof ClipModel>;
