/**
 * Loading a decoder-only model (tokenizer + one onnxruntime session) and checking that its IO is what the
 * Hugging Face ONNX export of a causal LM with KV cache has. Loaded once per process per (folder, variant, EPs).
 * Nothing here serialises session runs: the model thread's queue (thread.ts) does, one backend call at a time.
 */
import { existsSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { CacheState } from './forward.js';
import {
  ModelFolderError,
  checkFolderFiles,
  findOnnxFile,
  resolveModelDir,
  type OnnxVariant,
} from './folder.js';
import { ONNX_DEFAULTS, type ExecutionProvider } from './options.js';
import { patchForPacking, type PackedInputs } from './graphPatch.js';

export type { ExecutionProvider } from './options.js';

export interface LoadOptions {
  /** Local folder or hub id. */
  path: string;
  variant?: OnnxVariant;
  executionProviders?: ExecutionProvider[];
  cacheDir?: string;
  /**
   * Take the attention bias and the kept logits positions as graph inputs (graphPatch.ts), so that prefix reuse can
   * run all suffixes of a prefix as one sequence; default true. false: the export's graph as it is (tests, bench).
   */
  patchGraph?: boolean;
}

/** What the forward pass needs to know about the graph. */
export interface ModelIO {
  layers: number;
  kvHeads: number;
  headDim: number;
  kvType: 'float32' | 'float16';
  /** The graph has a `num_logits_to_keep` input (some hub exports): prompt logits are computed for one position. */
  logitsToKeep: boolean;
}

export interface GenerationDefaults {
  eosTokenIds: number[];
  doSample: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
}

export interface LocalModel {
  dir: string;
  onnxFile: string;
  session: ort.InferenceSession;
  tokenizer: PreTrainedTokenizer;
  io: ModelIO;
  /** present.{i}.key|value: what to fetch when no logits are needed. */
  cacheOutputs: string[];
  vocabSize: number;
  maxPositions: number;
  /** Token used in masked-out slots (pad = eos, as the seed does); its value never reaches a real position. */
  padId: number;
  generation: GenerationDefaults;
  /** The patched graph's extra inputs (every run feeds them); absent when the graph is the export's own. */
  packing?: PackedInputs;
  /** Why the graph was not patched (for logs and the bench). */
  packingNote?: string;
  /** The last shared prompt prefix run for scoring (batch 1): the next batch of the same question reuses it. */
  lastPrefix?: { tokens: number[]; state: CacheState };
}

const loaded = new Map<string, Promise<LocalModel>>();

/** The process-wide model for these options; a failed load is forgotten so that a fixed folder can be retried. */
export function loadLocalModel(opts: LoadOptions): Promise<LocalModel> {
  const variant = opts.variant ?? ONNX_DEFAULTS.variant;
  const eps = opts.executionProviders ?? [...ONNX_DEFAULTS.providers];
  const patch = opts.patchGraph ?? true;
  const key = JSON.stringify([path.resolve(opts.path), variant, eps, patch]);
  let model = loaded.get(key);
  if (!model) {
    model = load(opts.path, variant, eps, opts.cacheDir, patch);
    model.catch(() => loaded.delete(key));
    loaded.set(key, model);
  }
  return model;
}

/** Releases every loaded session (tests, shutdown). */
export async function unloadLocalModels(): Promise<void> {
  const models = [...loaded.values()];
  loaded.clear();
  for (const m of await Promise.allSettled(models)) if (m.status === 'fulfilled') await m.value.session.release();
}

async function load(
  pathOrId: string,
  variant: OnnxVariant,
  eps: ExecutionProvider[],
  cacheDir?: string,
  patch = true,
): Promise<LocalModel> {
  const dir = await resolveModelDir(pathOrId, variant, cacheDir);
  checkFolderFiles(dir);
  const onnxFile = findOnnxFile(dir, variant);
  const config = await readJson(path.join(dir, 'config.json'));
  const genConfig = await readJson(path.join(dir, 'generation_config.json')).catch((): Json => ({}));
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true }).catch((e: Error) => {
    throw new ModelFolderError(`Cannot load the tokenizer of ${dir} (tokenizer.json): ${e.message}`);
  });
  const { session, packing, packingNote } = patch ? await createPatchedSession(onnxFile, eps, variant) : { session: await createSession(onnxFile, eps, variant), packingNote: 'not asked' };
  try {
    const io = checkIO(session, config, onnxFile, packing);
    const vocabSize = checkVocab(session, config, tokenizer, dir, onnxFile);
    const eos = [genConfig.eos_token_id, config.eos_token_id, tokenizer.eos_token_id].flat();
    const eosTokenIds = [...new Set(eos.filter((x): x is number => typeof x === 'number'))];
    return {
      dir,
      onnxFile,
      session,
      tokenizer,
      io,
      ...(packing ? { packing } : {}),
      ...(packingNote ? { packingNote } : {}),
      cacheOutputs: session.outputNames.filter((n) => n.startsWith('present.')),
      vocabSize,
      maxPositions: config.max_position_embeddings ?? Number.MAX_SAFE_INTEGER,
      padId: tokenizer.pad_token_id ?? eosTokenIds[0] ?? 0,
      generation: {
        eosTokenIds,
        doSample: genConfig.do_sample ?? false,
        temperature: genConfig.temperature,
        topP: genConfig.top_p,
        topK: genConfig.top_k,
      },
    };
  } catch (e) {
    await session.release();
    throw e;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function readJson(file: string): Promise<Json> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ModelFolderError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Full graph optimization, except that a w8 model keeps its DequantizeLinear(weights) -> MatMul: ORT's QDQ fusions
 * would turn it back into a kernel that quantizes activations per tensor, i.e. batch-dependent again (measured on
 * SmolLM2-135M: 0.16 nats between batched and single with them, 1.6e-5 without).
 */
export function sessionOptions(eps: ExecutionProvider[], variant: OnnxVariant): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
    ...(process.env.ROLYPLAY_ORT_THREADS ? { intraOpNumThreads: Number(process.env.ROLYPLAY_ORT_THREADS) } : {}),
    // onnxruntime's per-node profile (a chrome-trace JSON per session, named <prefix>_<date>.json): for benchmarks.
    ...(process.env.ROLYPLAY_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.ROLYPLAY_ORT_PROFILE } : {}),
    ...(variant === 'w8' ? { extra: { session: { disable_quant_qdq: '1' } } } : {}),
  };
}

/** Room after a model read for patching: graphPatch.ts appends one small graph field (~150 bytes for SmolLM2). */
const TAIL_ROOM = 4096;

async function readInto(file: string, into: Buffer, size: number): Promise<void> {
  const fd = await open(file, 'r');
  try {
    for (let at = 0; at < size; ) {
      const { bytesRead } = await fd.read(into, at, size - at, at);
      if (bytesRead === 0) throw new ModelFolderError(`${file} ended after ${at} of ${size} bytes while being read`);
      at += bytesRead;
    }
  } finally {
    await fd.close();
  }
}

/**
 * The session of the patched graph (graphPatch.ts) when the export has the pattern and onnxruntime takes it;
 * otherwise the export's own graph, with the reason. A graph with external data (weights beside the .onnx file)
 * is loaded by path, unpatched: a session made from bytes would not find them.
 */
async function createPatchedSession(
  file: string,
  eps: ExecutionProvider[],
  variant: OnnxVariant,
): Promise<{ session: ort.InferenceSession; packing?: PackedInputs; packingNote?: string }> {
  const external = existsSync(`${file}_data`) || existsSync(file.replace(/\.onnx$/, '.onnx_data'));
  let note = 'the weights are external data';
  if (!external) {
    // One buffer with room for the tail: the model is never held twice in JS.
    const size = statSync(file).size;
    const bytes = Buffer.allocUnsafeSlow(size + TAIL_ROOM);
    await readInto(file, bytes, size);
    const patched = patchForPacking(bytes.subarray(0, size));
    if ('reason' in patched) note = patched.reason;
    else if (patched.tail.length > TAIL_ROOM) note = `the patch needs ${patched.tail.length} bytes, more than ${TAIL_ROOM}`;
    else {
      bytes.set(patched.tail, size);
      try {
        const session = await ort.InferenceSession.create(bytes.subarray(0, size + patched.tail.length), sessionOptions(eps, variant));
        const bias = session.inputMetadata.find((m) => m.name === patched.inputs.bias);
        if (bias?.isTensor && bias.type === 'float32') return { session, packing: patched.inputs };
        note = `the attention bias is ${bias?.isTensor ? bias.type : 'not a tensor'}, not float32`;
        await session.release();
      } catch (e) {
        note = `onnxruntime refused the patched graph: ${(e as Error).message.split('\n')[0]}`;
      }
    }
  }
  return { session: await createSession(file, eps, variant), packingNote: note };
}

export async function createSession(file: string, eps: ExecutionProvider[], variant: OnnxVariant): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, sessionOptions(eps, variant));
  } catch (e) {
    const msg = (e as Error).message;
    const cuda = eps.includes('cuda')
      ? " The CUDA provider needs onnxruntime-node's CUDA 12 libraries, which .npmrc skips " +
        '(onnxruntime-node-install=skip): on a GPU worker run ' +
        '`npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12`, or use providers ["cpu"].'
      : '';
    throw new ModelFolderError(`onnxruntime cannot load ${file}: ${msg}.${cuda}`);
  }
}

const OPTIONAL_INPUTS = ['num_logits_to_keep'];

function checkIO(session: ort.InferenceSession, config: Json, file: string, packing?: PackedInputs): ModelIO {
  const kvInputs = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n));
  const layers = config.num_hidden_layers ?? kvInputs.length;
  const kvNames = (prefix: string) =>
    Array.from({ length: layers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();
  const wantIn = ['input_ids', 'attention_mask', 'position_ids', ...kvNames('past_key_values')];
  const wantOut = ['logits', ...kvNames('present')];
  const missingIn = wantIn.filter((n) => !session.inputNames.includes(n));
  const added = packing ? [packing.bias, packing.logitsIndex] : [];
  const extraIn = session.inputNames.filter((n) => !wantIn.includes(n) && !OPTIONAL_INPUTS.includes(n) && !added.includes(n));
  const missingOut = wantOut.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length || extraIn.length || missingOut.length) {
    const list = (names: string[]) => (names.length > 6 ? [...names.slice(0, 6), '…'] : names).join(', ');
    const problems = [
      missingIn.length && `missing inputs ${list(missingIn)}`,
      extraIn.length && `unexpected inputs ${list(extraIn)}`,
      missingOut.length && `missing outputs ${list(missingOut)}`,
    ].filter(Boolean);
    throw new ModelFolderError(
      `${file} has unexpected inputs/outputs for a ${layers}-layer decoder with KV cache: ${problems.join('; ')}. ` +
        'Expected the Hugging Face ONNX export of a causal LM with past key values (inputs input_ids, ' +
        'attention_mask, position_ids, past_key_values.{i}.key/value; outputs logits, present.{i}.key/value), as in ' +
        'onnx-community repos or `optimum-cli export onnx --task text-generation-with-past`.',
    );
  }
  const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
  if (!meta?.isTensor || (meta.type !== 'float32' && meta.type !== 'float16')) {
    throw new ModelFolderError(`${file}: past_key_values must be float32 or float16 tensors.`);
  }
  const dim = (d: number | string | undefined, fallback: number) => (typeof d === 'number' ? d : fallback);
  const kvHeads = dim(meta.shape[1], config.num_key_value_heads ?? config.num_attention_heads);
  const headDim = dim(meta.shape[3], config.head_dim ?? config.hidden_size / config.num_attention_heads);
  if (!Number.isInteger(kvHeads) || !Number.isInteger(headDim)) {
    throw new ModelFolderError(`${file}: cannot tell the KV-cache shape from the graph or config.json.`);
  }
  return { layers, kvHeads, headDim, kvType: meta.type, logitsToKeep: session.inputNames.includes('num_logits_to_keep') };
}

function checkVocab(
  session: ort.InferenceSession,
  config: Json,
  tokenizer: PreTrainedTokenizer,
  dir: string,
  file: string,
): number {
  const meta = session.outputMetadata.find((m) => m.name === 'logits');
  const logitsDim = meta?.isTensor ? meta.shape[2] : undefined;
  const vocab: number | undefined = config.vocab_size ?? (typeof logitsDim === 'number' ? logitsDim : undefined);
  if (vocab === undefined) throw new ModelFolderError(`${dir}/config.json has no vocab_size.`);
  if (typeof logitsDim === 'number' && logitsDim !== vocab) {
    throw new ModelFolderError(
      `Vocabulary size mismatch: ${file} produces ${logitsDim} logits but ${dir}/config.json says vocab_size ` +
        `${vocab}. The config and the ONNX file come from different models: download them from the same repository.`,
    );
  }
  // Models may pad the embedding past the tokenizer (vocab_size >= tokens), never the other way round.
  let maxId = -1;
  for (const id of tokenizer.get_vocab().values()) maxId = Math.max(maxId, id);
  if (maxId >= vocab) {
    throw new ModelFolderError(
      `Vocabulary size mismatch: ${dir}/tokenizer.json has token ids up to ${maxId} but the model has ${vocab} ` +
        'logits (config.json vocab_size). The tokenizer belongs to another model: copy tokenizer.json and ' +
        'tokenizer_config.json from the same repository as the ONNX file.',
    );
  }
  return vocab;
}
