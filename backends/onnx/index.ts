/** The local onnxruntime backend (a Hugging Face ONNX folder or hub id), registered as `backend: onnx`. */
import { existsSync } from 'node:fs';
import type { BackendDefinition } from '../catalog.js';
import { OnnxModel, type OnnxModelSpec } from './options.js';

export const onnxBackend: BackendDefinition<OnnxModelSpec> = {
  name: 'onnx',
  options: OnnxModel,
  capabilities: ['OptionScorer', 'Generator'],
  local: true,
  label: (o) => `onnx:${o.path.split('/').filter(Boolean).pop()}`,
  async create(o, { format }) {
    // In a thread of its own: a forward pass must not stop this thread's heartbeats and workflow tasks.
    const { ThreadedBackend } = await import('./thread.js');
    const backend = new ThreadedBackend({ path: o.path, variant: o.variant, providers: o.providers, maxBatch: o.max_batch }, format);
    await backend.preflight(); // load now, so a bad model folder fails this batch at once
    return backend;
  },
  /** The files of the folder only: loading the model is left to the workers of its own task queue (the GPU machines). */
  async preflight(o) {
    const { checkFolderFiles, findOnnxFile } = await import('./folder.js');
    if (!existsSync(o.path)) return; // a hub id: downloaded by the worker that loads it
    checkFolderFiles(o.path);
    findOnnxFile(o.path, o.variant);
  },
};
