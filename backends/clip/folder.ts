/**
 * CLIP model folders in the hub's ONNX layout (Xenova/clip-vit-base-patch32): config.json, preprocessor_config.json,
 * tokenizer.json, tokenizer_config.json, onnx/text_model.onnx and onnx/vision_model.onnx. A hub id is downloaded
 * once into the model cache (same cache and progress bars as the onnx backend); offline, the error says what to copy.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ModelFolderError, defaultCacheDir, downloadHubFiles } from '../onnx/folder.js';
import type { ClipVariant } from './options.js';

const SUFFIX: Record<ClipVariant, string> = { fp32: '', fp16: '_fp16', int8: '_quantized' };
const REQUIRED = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ClipFiles {
  dir: string;
  textModel: string;
  visionModel: string;
}

/** The repo paths of one variant: what a complete folder holds and what a download fetches. */
export function clipRepoFiles(variant: ClipVariant): string[] {
  return [...REQUIRED, `onnx/text_model${SUFFIX[variant]}.onnx`, `onnx/vision_model${SUFFIX[variant]}.onnx`];
}

/** The model files of `dir`, or an error naming each missing file and how to get it. */
export function clipFolderFiles(dir: string, variant: ClipVariant): ClipFiles {
  const missing = clipRepoFiles(variant).filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length) {
    const onnxDir = path.join(dir, 'onnx');
    const present = existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : [];
    const usable = (Object.keys(SUFFIX) as ClipVariant[]).filter((v) =>
      [`text_model${SUFFIX[v]}.onnx`, `vision_model${SUFFIX[v]}.onnx`].every((f) => present.includes(f)),
    );
    const fix = missing.some((f) => f.startsWith('onnx/')) && usable.length
      ? `choose variant ${usable.map((v) => `"${v}"`).join(' or ')}, or add the files`
      : 'copy them from the hub repository of the model (e.g. Xenova/clip-vit-base-patch32, which has this layout)';
    throw new ModelFolderError(
      `CLIP model folder ${dir} is missing ${missing.join(', ')} (variant "${variant}"; onnx/ has ` +
        `${present.length ? present.join(', ') : 'no .onnx files'}): ${fix}.`,
    );
  }
  return {
    dir,
    textModel: path.join(dir, 'onnx', `text_model${SUFFIX[variant]}.onnx`),
    visionModel: path.join(dir, 'onnx', `vision_model${SUFFIX[variant]}.onnx`),
  };
}

/** A local folder (absolute), or a hub id downloaded into `cacheDir/<id>` unless already complete there. */
export async function resolveClipFolder(pathOrId: string, variant: ClipVariant, cacheDir = defaultCacheDir()): Promise<ClipFiles> {
  const local = path.resolve(pathOrId);
  if (existsSync(local)) return clipFolderFiles(local, variant);
  if (!HUB_ID.test(pathOrId) || pathOrId.startsWith('.')) {
    throw new ModelFolderError(
      `CLIP model folder ${local} does not exist. Set the model's path to a local folder in the hub's CLIP ONNX ` +
        `layout (${clipRepoFiles(variant).join(', ')}) or to a hub id such as "Xenova/clip-vit-base-patch32".`,
    );
  }
  const dir = path.join(cacheDir, pathOrId);
  try {
    return clipFolderFiles(dir, variant);
  } catch {
    // not (completely) cached yet
  }
  try {
    await downloadHubFiles(pathOrId, clipRepoFiles(variant), dir);
  } catch (e) {
    throw new ModelFolderError(
      `CLIP model "${pathOrId}" is not in the local cache (${dir}) and could not be downloaded ` +
        `(${(e as Error).message}). Without internet access, copy the model folder (${clipRepoFiles(variant).join(', ')}) ` +
        `from a machine that has it into ${dir}, or set the model's path to that local folder.`,
    );
  }
  return clipFolderFiles(dir, variant);
}
