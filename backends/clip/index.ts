/** CLIP in the hub's ONNX layout (a local folder or a hub id), registered as `backend: clip`. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BackendDefinition } from '../catalog.js';
import { defaultCacheDir } from '../onnx/folder.js';
import { clipFolderFiles } from './folder.js';
import { ClipModel, type ClipModelConfig } from './options.js';

export const clipBackend: BackendDefinition<ClipModelConfig> = {
  name: 'clip',
  options: ClipModel,
  capabilities: ['TextEmbedder', 'ImageEmbedder'],
  local: true,
  label: (o) => `clip:${o.path.split('/').filter(Boolean).pop()}`,
  async create(o) {
    const { ClipBackend } = await import('./backend.js');
    return ClipBackend.load(o);
  },
  /** The files of a local folder only (a hub id is downloaded by the worker that loads it). */
  async preflight(o) {
    if (!existsSync(o.path)) return;
    clipFolderFiles(path.resolve(o.path), o.variant);
  },
  hub: {
    cached(o) {
      try {
        clipFolderFiles(path.join(defaultCacheDir(), o.path), o.variant);
        return true;
      } catch {
        return false;
      }
    },
    async download(o) {
      const { resolveClipFolder } = await import('./folder.js');
      await resolveClipFolder(o.path, o.variant);
    },
  },
};
