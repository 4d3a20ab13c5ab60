/**
 * The vision task's four stages as engine batches (plain TypeScript; the engine runs each batch as an activity):
 *
 *   describe      cells [start, end) of describeCells (persona × class × replicate): the LLM description and, in the
 *                 same batch, its cleaning calls; every LLM output is stored as a `call` record (and in the shared
 *                 LLM cache) before it is used, so a retried or resumed batch never asks a stored call again
 *   embed_text    the distinct CLIP texts of the stored descriptions, by text hash
 *   embed_images  test images [start, end), through the image-embedding cache shared across runs
 *   score         one persona per batch: zero-shot predictions over every test image
 */
import type { Generator, ImageEmbedder, TextEmbedder } from '../../backends/capabilities.js';
import type { BackendError, GenerateRequest, PromptInput } from '../../backends/types.js';
import { formatPrompt } from '../../prompts/formats.js';
import { decodeImage, cropBottom } from '../../backends/clip/image.js';
import { clipFolderFiles } from '../../backends/clip/folder.js';
import type { ClipVariant } from '../../backends/clip/options.js';
import { stableStringify } from '../../experiment/load.js';
import { BatchFailure, worstError } from '../batch.js';
import type { BatchContext, BatchOutcome, BatchRange, PlannedBatch } from '../types.js';
import type { ResultStore } from '../../store/results.js';
import { CLEANING_STOP } from './clean.js';
import { clipModelIdentity, ImageEmbeddingCache, LlmCallCache, sha256 } from './cache.js';
import type { VisionSpec } from './config.js';
import { loadVisionData, readImageBytes, type VisionDataset } from './data.js';
import { clipText, describeCells, describeRecord, startCellCleaning, type DescribeCell, type DescribeSettings, type DescriptionRecord } from './describe.js';
import { zeroShotPredict } from './metrics.js';
import { countOf, keysOf, loadCalls, loadDescriptions, loadPayloads, record, type ImageBatchRecord, type PredictionRecord, type TextRecord } from './records.js';

type Ctx = BatchContext<VisionSpec>;

const datasets = new Map<string, Promise<VisionDataset>>();

/** The spec's data set, loaded once per process (a failed load is forgotten). */
export function datasetOf(spec: VisionSpec): Promise<VisionDataset> {
  const key = stableStringify(spec.data);
  let d = datasets.get(key);
  if (!d) {
    d = loadVisionData(spec.data, { cache: undefined });
    d.catch(() => datasets.delete(key));
    datasets.set(key, d);
  }
  return d;
}

export function describeSettings(spec: VisionSpec): DescribeSettings {
  return { template: spec.template, stop: spec.stop, format: spec.format, runSeed: spec.describe.seed, replicates: spec.describe.replicates };
}

export async function cellsOf(spec: VisionSpec): Promise<DescribeCell[]> {
  return describeCells((await datasetOf(spec)).classNames, spec.personas, describeSettings(spec));
}

function ranges(n: number, size: number, group: string, perUnit = 1): PlannedBatch[] {
  const out: PlannedBatch[] = [];
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    out.push({ group, start, end, cells: (end - start) * perUnit });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ describe

export async function planDescribe(spec: VisionSpec): Promise<PlannedBatch[]> {
  return ranges((await cellsOf(spec)).length, spec.execution.unitsPerBatch, 'cells');
}

interface LlmUnit {
  id: string;
  /** The describe cell's index (the call record's unit). */
  unit: number;
  prompt: string;
  seed: number;
  stop: readonly string[];
  /** Whom the call's API usage is billed to. */
  persona: string;
}

function promptInput(spec: VisionSpec, user: string, persona: string): PromptInput {
  return { user, text: formatPrompt(spec.format, { user }), persona };
}

/** Outputs of `units`: stored call records first, then the shared cache, then the LLM (each stored before use). */
async function ask(ctx: Ctx, units: LlmUnit[], stored: Map<string, string>, errors: BackendError[]): Promise<Map<string, string>> {
  const { spec, store } = ctx;
  const cache = new LlmCallCache(spec.cacheDir);
  const llmSpec = spec.models?.llm ?? spec.model;
  const out = new Map<string, string>();
  const toAsk: { u: LlmUnit; req: GenerateRequest; key: unknown }[] = [];
  const fresh: { u: LlmUnit; text: string }[] = [];
  for (const u of units) {
    const have = stored.get(u.id);
    if (have !== undefined) {
      out.set(u.id, have);
      continue;
    }
    const s = spec.describe;
    const req: GenerateRequest = { prompt: promptInput(spec, u.prompt, u.persona), maxTokens: s.maxTokens, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: u.seed, stop: [...u.stop] };
    const key = { model: llmSpec, format: spec.format, req: { ...req, prompt: { user: req.prompt.user, text: req.prompt.text } } };
    const cached = cache.get(key);
    if (cached !== undefined) fresh.push({ u, text: cached });
    else toAsk.push({ u, req, key });
  }
  if (toAsk.length) {
    const llm = (await ctx.backend()) as Generator;
    const outcomes = await llm.generate(toAsk.map((t) => t.req), ctx.signal);
    outcomes.forEach((o, i) => {
      const t = toAsk[i]!;
      if (!o.ok) {
        errors.push(o.error);
        return;
      }
      cache.put(t.key, o.value.text);
      fresh.push({ u: t.u, text: o.value.text });
    });
  }
  if (fresh.length) await store.putRecords(fresh.map(({ u, text }) => record(spec.run, 'call', u.id, u.unit, { text })));
  for (const { u, text } of fresh) {
    out.set(u.id, text);
    stored.set(u.id, text);
  }
  return out;
}

export async function runDescribeBatch(ctx: Ctx, b: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const s = describeSettings(spec);
  const cells = (await cellsOf(spec)).slice(b.start, b.end).map((cell, i) => ({ cell, unit: b.start + i }));
  const done = await keysOf(store, spec.run, 'description', b.start, b.end);
  const todo = cells.filter(({ cell }) => !done.has(cell.id));
  const stored = await loadCalls(store, spec.run, b.start, b.end);
  const errors: BackendError[] = [];
  // Round 1: the descriptions (class_name cells need none).
  const raws = await ask(
    ctx,
    todo.filter(({ cell }) => cell.prompt !== null).map(({ cell, unit }) => ({ id: cell.id, unit, prompt: cell.prompt!, seed: cell.seed!, stop: spec.stop, persona: cell.persona })),
    stored,
    errors,
  );
  ctx.onProgress?.({ stage: 'describe', calls: stored.size });
  // Round 2: the cleaning calls of the cells whose description still names the class.
  const pending = todo.flatMap(({ cell, unit }) => {
    const raw = raws.get(cell.id);
    if (cell.prompt === null || raw === undefined || !spec.cleaningLlm) return [];
    return startCellCleaning(cell, raw, s).calls.map((c) => ({ id: c.id, unit, prompt: c.prompt, seed: c.seed, stop: CLEANING_STOP, persona: cell.persona }));
  });
  const cleaned = await ask(ctx, pending, stored, errors);
  const records: DescriptionRecord[] = [];
  for (const { cell } of todo) {
    if (cell.prompt === null) {
      records.push(describeRecord(cell, null, [], s));
      continue;
    }
    const raw = raws.get(cell.id);
    if (raw === undefined) continue;
    const calls = startCellCleaning(cell, raw, s).calls;
    // cleaning.llm false: the sentence stays as it is (cleanedSentence keeps the original when the name remains).
    const outputs = calls.map((c) => (spec.cleaningLlm ? cleaned.get(c.id) : c.sentence));
    if (outputs.some((o) => o === undefined)) continue;
    records.push(describeRecord(cell, raw, outputs as string[], s));
  }
  const unitOf = new Map(cells.map(({ cell, unit }) => [cell.id, unit]));
  if (records.length) await store.putRecords(records.map((r) => record(spec.run, 'description', r.id, unitOf.get(r.id)!, r)));
  ctx.onProgress?.({ stage: 'describe', calls: stored.size, cells: done.size + records.length });
  if (errors.length) throw new BatchFailure(worstError(errors));
  return { cells: await countOf(store, spec.run, 'description', b.start, b.end), discarded: 0 };
}

// ------------------------------------------------------------------------------------------------ embed text

/** The distinct CLIP texts of the stored descriptions, by hash (sorted: the units of the embed_text stage). */
export async function textsOf(spec: VisionSpec, store: ResultStore): Promise<{ hash: string; text: string }[]> {
  const byHash = new Map<string, string>();
  for (const d of await loadDescriptions(store, spec.run)) {
    const t = clipText(d.description);
    byHash.set(sha256(t), t);
  }
  return [...byHash.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([hash, text]) => ({ hash, text }));
}

export async function planEmbedText(spec: VisionSpec, store: ResultStore): Promise<PlannedBatch[]> {
  return ranges((await textsOf(spec, store)).length, spec.embedding.textsPerBatch, 'texts');
}

export async function runEmbedTextBatch(ctx: Ctx, b: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const texts = (await textsOf(spec, store)).slice(b.start, b.end);
  const done = await keysOf(store, spec.run, 'text', b.start, b.end);
  const todo = texts.map((t, i) => ({ ...t, unit: b.start + i })).filter((t) => !done.has(t.hash));
  if (todo.length) {
    const clip = (await ctx.model!('clip')) as TextEmbedder;
    const embs = await clip.embedTexts(todo.map((t) => t.text), { truncation: spec.truncation }, ctx.signal);
    await store.putRecords(
      todo.map((t, i): ReturnType<typeof record> => {
        const e = embs[i]!;
        const payload: TextRecord = { hash: t.hash, text: t.text, vector: Array.from(e.vector), tokens: e.tokens, truncated: e.truncated };
        return record(spec.run, 'text', t.hash, t.unit, payload, e.truncated);
      }),
    );
  }
  return { cells: await countOf(store, spec.run, 'text', b.start, b.end), discarded: 0 };
}

// ------------------------------------------------------------------------------------------------ embed images

/** The image-embedding cache of this spec's CLIP model and data set. */
export async function imageCacheOf(spec: VisionSpec, clip: ImageEmbedder, ds: VisionDataset): Promise<ImageEmbeddingCache> {
  const b = clip as ImageEmbedder & { dir?: string; config?: { variant: ClipVariant } };
  const model = b.dir && b.config ? clipModelIdentity(b.dir, b.config.variant, clipFolderFiles(b.dir, b.config.variant).visionModel) : b.id;
  return new ImageEmbeddingCache(spec.cacheDir, {
    model,
    dataset: ds.kind,
    source: ds.source,
    split: ds.split,
    preprocess: clip.preprocessVersion,
    cropBottom: ds.preprocessing.crop_bottom ?? 0,
  });
}

/** Embeddings of `items` through the cache: misses are decoded, cropped as the data set says, embedded and cached. */
async function imageEmbeddings(ctx: Ctx, ds: VisionDataset, from: number, to: number): Promise<{ vectors: Float32Array[]; embedded: number }> {
  const clip = (await ctx.model!('clip')) as ImageEmbedder;
  const cache = await imageCacheOf(ctx.spec, clip, ds);
  const items = ds.items.slice(from, to);
  const vectors: (Float32Array | undefined)[] = items.map((it) => cache.get(it.id));
  const missing = items.map((it, i) => ({ it, i })).filter(({ i }) => vectors[i] === undefined);
  const crop = ds.preprocessing.crop_bottom ?? 0;
  const step = ctx.spec.embedding.imagesPerBatch;
  for (let k = 0; k < missing.length; k += step) {
    const part = missing.slice(k, k + step);
    const images = await Promise.all(part.map(async ({ it }) => {
      const img = await decodeImage(await readImageBytes(it), it.image.kind === 'file' ? it.image.path : it.id);
      return crop > 0 ? cropBottom(img, crop) : img;
    }));
    const embs = await clip.embedImages(images, ctx.signal);
    part.forEach(({ it, i }, j) => {
      cache.put(it.id, embs[j]!);
      vectors[i] = embs[j]!;
    });
    ctx.onProgress?.({ stage: 'embed_images', embedded: k + part.length });
  }
  return { vectors: vectors as Float32Array[], embedded: missing.length };
}

export async function planEmbedImages(spec: VisionSpec): Promise<PlannedBatch[]> {
  return ranges((await datasetOf(spec)).items.length, spec.embedding.imagesPerBatch, 'images');
}

export async function runEmbedImagesBatch(ctx: Ctx, b: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const key = `${b.start}-${b.end}`;
  if (!(await keysOf(store, spec.run, 'image', b.start, b.end)).has(key)) {
    const ds = await datasetOf(spec);
    const { embedded } = await imageEmbeddings(ctx, ds, b.start, b.end);
    const payload: ImageBatchRecord = { start: b.start, end: b.end, embedded, cached: b.end - b.start - embedded };
    await store.putRecords([record(spec.run, 'image', key, b.start, payload)]);
  }
  return { cells: b.end - b.start, discarded: 0 };
}

// ------------------------------------------------------------------------------------------------ score

export async function planScore(spec: VisionSpec): Promise<PlannedBatch[]> {
  const n = (await datasetOf(spec)).items.length;
  return spec.personas.map((persona, i) => ({ group: persona, start: i, end: i + 1, cells: n }));
}

/** The persona's CLIP text per class, in class order (replicate 0: the faithful sample). */
export async function classTexts(spec: VisionSpec, store: ResultStore, persona: string, classNames: string[]): Promise<TextRecord[]> {
  const texts = new Map((await loadPayloads<TextRecord>(store, spec.run, 'text')).map((t) => [t.hash, t]));
  const descs = (await loadDescriptions(store, spec.run)).filter((d) => d.persona === persona && d.replicate === 0);
  return classNames.map((c, ci) => {
    const d = descs.find((x) => x.classIndex === ci);
    const t = d && texts.get(sha256(clipText(d.description)));
    if (!t) throw new Error(`run ${spec.run}: no CLIP text embedding for ${persona} / ${c} (the embed_text stage did not finish)`);
    return t;
  });
}

export async function runScoreBatch(ctx: Ctx, b: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const persona = b.group;
  const ds = await datasetOf(spec);
  if (!(await keysOf(store, spec.run, 'prediction', b.start, b.end)).has(persona)) {
    const texts = await classTexts(spec, store, persona, ds.classNames);
    // Read from the shared cache (the embed_images stage filled it; a miss, e.g. on another machine, recomputes).
    const { vectors } = await imageEmbeddings(ctx, ds, 0, ds.items.length);
    const payload: PredictionRecord = {
      persona,
      predictions: zeroShotPredict(vectors, texts.map((t) => t.vector)),
      truncated: texts.map((t) => t.truncated),
      tokens: texts.map((t) => t.tokens),
    };
    await store.putRecords([record(spec.run, 'prediction', persona, b.start, payload)]);
  }
  return { cells: ds.items.length, discarded: 0 };
}
