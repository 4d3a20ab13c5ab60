/**
 * Model folders in the Hugging Face ONNX layout (onnx-community repos): config.json, tokenizer.json,
 * tokenizer_config.json, generation_config.json, onnx/model*.onnx (+ model*.onnx_data). A hub id is downloaded
 * once into a cache folder with the same layout; offline, the user is told to point model.path at a folder.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { downloadFile, progressBars } from '../../net/download.js';
import { FatalBackendError } from '../types.js';

/** w8: int8 weights with float32 activations (scripts/make-weight-only-int8.py), batch-invariant unlike int8. */
export const ONNX_VARIANTS = ['fp32', 'fp16', 'int8', 'q4', 'w8'] as const;
export type OnnxVariant = (typeof ONNX_VARIANTS)[number];

/** File names per variant under onnx/, in the order tried (onnx-community naming). */
export const VARIANT_FILES: Record<OnnxVariant, readonly string[]> = {
  fp32: ['model.onnx'],
  fp16: ['model_fp16.onnx'],
  int8: ['model_int8.onnx', 'model_quantized.onnx'],
  q4: ['model_q4.onnx'],
  w8: ['model_w8.onnx'],
};

/** transformers.js dtype names for the download; onnx-community repos ship int8 as `q8` (model_quantized.onnx). */
const HUB_DTYPE: Record<OnnxVariant, string | undefined> = { fp32: 'fp32', fp16: 'fp16', int8: 'q8', q4: 'q4', w8: undefined };

const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

/** `owner/name` that is not an existing local path. */
export function isHubId(pathOrId: string): boolean {
  return HUB_ID.test(pathOrId) && !pathOrId.startsWith('.') && !existsSync(pathOrId);
}

/** A model folder that cannot be used as it is. Fatal: retrying cannot fix a folder. */
export class ModelFolderError extends FatalBackendError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

export function defaultCacheDir(): string {
  return process.env.ROLYPLAY_MODEL_CACHE ?? path.join(homedir(), '.cache', 'rolyplaying', 'models');
}

/** The onnx file of `variant` in `dir`, or an error naming what exists and how to fix it. */
export function findOnnxFile(dir: string, variant: OnnxVariant): string {
  const candidates = VARIANT_FILES[variant];
  for (const name of candidates) {
    const file = path.join(dir, 'onnx', name);
    if (existsSync(file)) return file;
  }
  const present = existsSync(path.join(dir, 'onnx'))
    ? readdirSync(path.join(dir, 'onnx')).filter((f) => f.endsWith('.onnx'))
    : [];
  const usable = ONNX_VARIANTS.filter((v) => VARIANT_FILES[v].some((f) => present.includes(f)));
  const fix = usable.length
    ? `choose variant ${usable.map((v) => `"${v}"`).join(' or ')}, or add the file`
    : 'download the ONNX export of the model (e.g. from an onnx-community repo) into that folder';
  throw new ModelFolderError(
    `Model folder ${dir} has no ${candidates.map((c) => `onnx/${c}`).join(' or ')} for variant "${variant}" ` +
      `(found: ${present.length ? present.map((f) => `onnx/${f}`).join(', ') : 'no .onnx files'}): ${fix}.`,
  );
}

/** Checks the non-model files every folder needs; the onnx file is checked by `findOnnxFile`. */
export function checkFolderFiles(dir: string): void {
  const missing = REQUIRED_FILES.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length === 0) return;
  const tokenizer = missing.some((f) => f.startsWith('tokenizer'));
  throw new ModelFolderError(
    `Model folder ${dir} is missing ${missing.join(', ')}. ` +
      (tokenizer
        ? 'The tokenizer is loaded from tokenizer.json + tokenizer_config.json: copy both from the original model ' +
          'repository (onnx-community repos ship them next to config.json).'
        : 'Copy config.json from the original model repository.'),
  );
}

/**
 * A local folder (returned as an absolute path) or a hub id (downloaded into `cacheDir/<id>` unless there).
 */
export async function resolveModelDir(pathOrId: string, variant: OnnxVariant, cacheDir = defaultCacheDir()) {
  const local = path.resolve(pathOrId);
  if (existsSync(local)) return local;
  if (!HUB_ID.test(pathOrId)) {
    throw new ModelFolderError(
      `Model folder ${local} does not exist. Set model.path to a local folder in the Hugging Face ONNX layout ` +
        '(config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) or to a hub id such as ' +
        '"onnx-community/Llama-3.2-1B-Instruct".',
    );
  }
  const dir = path.join(cacheDir, pathOrId);
  if (!cachedModelDir(pathOrId, variant, cacheDir)) await download(pathOrId, variant, dir);
  return dir;
}

/** The cache folder of a hub id when it holds a complete download of `variant` (no network). */
export function cachedModelDir(id: string, variant: OnnxVariant, cacheDir = defaultCacheDir()): string | undefined {
  const dir = path.join(cacheDir, id);
  try {
    checkFolderFiles(dir);
    findOnnxFile(dir, variant);
    return dir;
  } catch {
    return undefined;
  }
}

async function download(id: string, variant: OnnxVariant, dir: string): Promise<void> {
  const { ModelRegistry, env } = await import('@huggingface/transformers');
  if (process.env.HF_ENDPOINT) env.remoteHost = process.env.HF_ENDPOINT;
  let files: string[];
  if (HUB_DTYPE[variant] === undefined) {
    throw new ModelFolderError(
      `Variant "${variant}" is not on the hub: build it from the int8 export with scripts/make-weight-only-int8.py ` +
        'and set model.path to that folder.',
    );
  }
  try {
    files = await ModelRegistry.get_pipeline_files('text-generation', id, { dtype: HUB_DTYPE[variant] as never });
  } catch (e) {
    throw new ModelFolderError(
      `Model "${id}" is not in the local cache (${dir}) and could not be fetched from ${env.remoteHost} ` +
        `(${(e as Error).message}). Without internet access, download the model folder elsewhere and set ` +
        'model.path to that local folder (Hugging Face ONNX layout: config.json, tokenizer.json, onnx/model.onnx).',
    );
  }
  await downloadHubFiles(id, files, dir);
}

/**
 * Downloads `files` (paths inside the repo) of hub model `id` into `dir` with a progress bar, skipping files already
 * there. Shared by every backend that reads the hub's ONNX layout (onnx, clip).
 */
export async function downloadHubFiles(id: string, files: string[], dir: string): Promise<void> {
  const { env } = await import('@huggingface/transformers');
  if (process.env.HF_ENDPOINT) env.remoteHost = process.env.HF_ENDPOINT;
  // Data files before the .onnx that references them, so an interrupted download never looks complete.
  files = [...files].sort((a, b) => Number(a.endsWith('.onnx')) - Number(b.endsWith('.onnx')));
  // cli-progress draws garbage on stop() when stderr is not a terminal (logs, CI): print one line per file there.
  const bars = progressBars();
  const token = process.env.HF_TOKEN ?? process.env.HF_ACCESS_TOKEN;
  try {
    for (const file of files) {
      const dest = path.join(dir, file);
      if (existsSync(dest)) continue;
      await downloadFile(hubUrl(env, id, file), dest, { label: file, bars, ...(token ? { headers: { Authorization: `Bearer ${token}` } } : {}) });
    }
  } catch (e) {
    throw e instanceof ModelFolderError ? e : new ModelFolderError((e as Error).message);
  } finally {
    bars?.stop();
  }
}

function hubUrl(env: { remotePathTemplate: string; remoteHost: string }, id: string, file: string): string {
  const repoPath = env.remotePathTemplate.replaceAll('{model}', id).replaceAll('{revision}', 'main');
  return new URL(repoPath + file, env.remoteHost).href;
}
