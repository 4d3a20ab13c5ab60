/**
 * CLIP on onnxruntime-node in the hub's ONNX layout: text_model.onnx (input_ids → text_embeds) and vision_model.onnx
 * (pixel_values → image_embeds), both L2-normalised here, as CLIPModel.forward does before the logits. Tokens follow
 * the seed's rules (tokens.ts), pixels the seed's CLIPImageProcessor PIL path (preprocess.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageEmbedder, RgbImage, TextEmbedder, TextEmbedding, TruncationMode } from '../capabilities.js';
import { ModelFolderError } from '../onnx/folder.js';
import { resolveClipFolder } from './folder.js';
import { decodeImageFile } from './image.js';
import { ClipModel, type ClipModelConfig, type ClipModelInput } from './options.js';
import { preprocessVersion, readPreprocessConfig, type PreprocessConfig } from './preprocess.js';
import { LocalSessions, ThreadSessions, type ClipPart, type ClipSessions, type Feed, type PartIO } from './sessions.js';
import { cutTokens, loadClipTokenizer, padBatch, type ClipTokenizer, type ClipTokens } from './tokens.js';

/** Where a hub id is downloaded to (defaults to the model cache of the onnx backend). */
export interface ClipLoadOptions {
  cacheDir?: string;
}

/** The IO this backend feeds and reads (the hub's exports; fp32 and int8 variants keep float32 IO). */
const WANT: Record<ClipPart, { input: string; inputType: string; output: string }> = {
  text: { input: 'input_ids', inputType: 'int64', output: 'text_embeds' },
  vision: { input: 'pixel_values', inputType: 'float32', output: 'image_embeds' },
};

export class ClipBackend implements TextEmbedder, ImageEmbedder {
  readonly id: string;
  readonly preprocessVersion: string;

  private constructor(
    readonly config: ClipModelConfig,
    readonly dir: string,
    private readonly tokenizer: ClipTokenizer,
    /** Text context of the model (text_config.max_position_embeddings, 77). */
    readonly context: number,
    private readonly preprocess: PreprocessConfig,
    private readonly sessions: ClipSessions,
    private readonly textMask: boolean,
  ) {
    this.id = `clip:${path.basename(dir)}:${config.variant}`;
    this.preprocessVersion = preprocessVersion(preprocess);
  }

  /** Resolves the folder (downloading a hub id when online), loads tokenizer and sessions, checks their IO. */
  static async load(spec: Omit<ClipModelInput, 'backend'> & { backend?: 'clip' }, opts: ClipLoadOptions = {}): Promise<ClipBackend> {
    const config = ClipModel.parse({ backend: 'clip', ...spec });
    const files = await resolveClipFolder(config.path, config.variant, opts.cacheDir);
    const tokenizer = await loadClipTokenizer(files.dir);
    const context = await textContext(files.dir);
    const preprocess = await readPreprocessConfig(files.dir);
    const sessionSpec = { files: { text: files.textModel, vision: files.visionModel }, variant: config.variant, providers: config.providers };
    const sessions = config.thread ? new ThreadSessions(sessionSpec) : new LocalSessions(sessionSpec);
    try {
      const io = await sessions.io();
      checkIO(io, { text: files.textModel, vision: files.visionModel });
      return new ClipBackend(config, files.dir, tokenizer, context, preprocess, sessions, io.text.inputs.includes('attention_mask'));
    } catch (e) {
      await sessions.close();
      throw e;
    }
  }

  /** The tokens each text is embedded from, cut per `truncation`: for the per-persona cut fraction without a pass. */
  tokenize(texts: string[], truncation: TruncationMode): ClipTokens[] {
    return texts.map((t) => cutTokens(this.tokenizer.encode(t), truncation, this.context, this.tokenizer.eos));
  }

  async embedTexts(texts: string[], opts: { truncation: TruncationMode }, signal?: AbortSignal): Promise<TextEmbedding[]> {
    const tokens = this.tokenize(texts, opts.truncation);
    const out: TextEmbedding[] = [];
    for (let i = 0; i < tokens.length; i += this.config.text_batch) {
      signal?.throwIfAborted();
      const batch = tokens.slice(i, i + this.config.text_batch);
      const rows = padBatch(batch.map((t) => t.ids), this.tokenizer.pad);
      const width = rows[0]!.length;
      const feeds: Record<string, Feed> = {
        input_ids: { type: 'int64', dims: [rows.length, width], data: BigInt64Array.from(rows.flat(), BigInt) },
      };
      if (this.textMask) {
        const mask = batch.flatMap((t) => Array.from({ length: width }, (_, j) => BigInt(j < t.ids.length ? 1 : 0)));
        feeds.attention_mask = { type: 'int64', dims: [rows.length, width], data: BigInt64Array.from(mask) };
      }
      const vectors = normalisedRows(await this.sessions.run('text', feeds, WANT.text.output));
      batch.forEach((t, j) => out.push({ vector: vectors[j]!, tokens: t.tokens, truncated: t.truncated }));
    }
    return out;
  }

  async embedImages(images: RgbImage[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < images.length; i += this.config.image_batch) {
      signal?.throwIfAborted();
      const batch = images.slice(i, i + this.config.image_batch);
      out.push(...normalisedRows(await this.sessions.runImages(batch, this.preprocess, WANT.vision.output, i)));
    }
    return out;
  }

  /** Decodes image files (errors name the file) and embeds them. */
  async embedImageFiles(files: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < files.length; i += this.config.image_batch) {
      const images = await Promise.all(files.slice(i, i + this.config.image_batch).map((f) => decodeImageFile(f)));
      out.push(...(await this.embedImages(images, signal)));
    }
    return out;
  }

  close(): Promise<void> {
    return this.sessions.close();
  }
}

const shared = new Map<string, Promise<ClipBackend>>();

/**
 * The process-wide backend of a spec (one pair of sessions, one worker thread, shared by every activity of the
 * process). A failed load is forgotten, so a fixed folder is picked up by the next call.
 */
export function sharedClipBackend(spec: Parameters<typeof ClipBackend.load>[0], opts: ClipLoadOptions = {}): Promise<ClipBackend> {
  const config = ClipModel.parse({ backend: 'clip', ...spec });
  const key = JSON.stringify([{ ...config, path: path.resolve(config.path) }, opts.cacheDir]);
  let b = shared.get(key);
  if (!b) {
    b = ClipBackend.load(config, opts);
    b.catch(() => shared.delete(key));
    shared.set(key, b);
  }
  return b;
}

/** Closes every shared backend (tests, shutdown). */
export async function closeSharedClipBackends(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  for (const b of await Promise.allSettled(all)) if (b.status === 'fulfilled') await b.value.close();
}

/** Rows of a [B, D] output, each scaled to unit L2 norm. */
function normalisedRows(t: { dims: number[]; data: Float32Array }): Float32Array[] {
  const [rows, dim] = t.dims as [number, number];
  return Array.from({ length: rows }, (_, r) => {
    const v = t.data.slice(r * dim, (r + 1) * dim);
    let sq = 0;
    for (const x of v) sq += x * x;
    const norm = Math.sqrt(sq);
    for (let k = 0; k < dim; k++) v[k] = v[k]! / norm;
    return v;
  });
}

async function textContext(dir: string): Promise<number> {
  const file = path.join(dir, 'config.json');
  let config: { text_config?: { max_position_embeddings?: number }; max_position_embeddings?: number };
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ModelFolderError(`Cannot read ${file}: ${(e as Error).message}. Copy it from the model's hub repository.`);
  }
  return config.text_config?.max_position_embeddings ?? config.max_position_embeddings ?? 77;
}

function checkIO(io: Record<ClipPart, PartIO>, files: Record<ClipPart, string>): void {
  for (const part of ['text', 'vision'] as const) {
    const { input, inputType, output } = WANT[part];
    if (!io[part].inputs.includes(input) || !io[part].outputs.includes(output)) {
      throw new ModelFolderError(
        `${files[part]} is not a CLIP ${part} model with projection: it takes ${io[part].inputs.join(', ')} and gives ` +
          `${io[part].outputs.join(', ')}, but ${input} → ${output} is needed (the hub's ${part}_model.onnx exports, ` +
          'e.g. from Xenova/clip-vit-base-patch32).',
      );
    }
    const types = io[part].types;
    if (types[input] !== inputType || types[output] !== 'float32') {
      throw new ModelFolderError(
        `${files[part]} takes ${input} as ${types[input]} and gives ${output} as ${types[output]}; this backend feeds ` +
          `${inputType} and reads float32. Choose a variant with float32 IO (fp32 or int8), or export with ` +
          'keep_io_types.',
      );
    }
  }
}
