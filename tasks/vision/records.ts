/**
 * The vision task's records in the result store's generic record table (kind → key → payload):
 *   call         one LLM call's output (key: the call id, e.g. `clean#1/man/Tabby Cat/r0`), stored before it is used
 *   description  a DescriptionRecord per describe cell (unit: the cell's index in describeCells order)
 *   text         a CLIP text embedding (key: sha256 of the text; unit: its index in the sorted list of text hashes)
 *   image        an image batch done (key: the batch range; payload: how many came from the shared cache)
 *   prediction   one persona's zero-shot predictions over all test images (unit: the persona's index)
 */
import { collect, type ResultStore, type TaskRecord } from '../../store/results.js';
import type { DescriptionRecord } from './describe.js';

export const TASK = 'vision';
export type VisionKind = 'call' | 'description' | 'text' | 'image' | 'prediction';

export interface TextRecord {
  hash: string;
  text: string;
  vector: number[];
  tokens: number;
  truncated: boolean;
}

export interface ImageBatchRecord {
  start: number;
  end: number;
  embedded: number;
  cached: number;
}

export interface PredictionRecord {
  persona: string;
  /** Predicted class per test image (data set order). */
  predictions: number[];
  /** Per class: was the persona's CLIP text cut. */
  truncated: boolean[];
  tokens: number[];
}

export function record(run: string, kind: VisionKind, key: string, unit: number, payload: unknown, flag = false): TaskRecord {
  return { run, task: TASK, kind, key, unit, flag, payload };
}

export function keysOf(store: ResultStore, run: string, kind: VisionKind, from?: number, to?: number): Promise<Set<string>> {
  return store.recordKeys({ run, task: TASK, kind, ...(from !== undefined ? { from, to } : {}) });
}

export async function countOf(store: ResultStore, run: string, kind: VisionKind, from?: number, to?: number): Promise<number> {
  return (await store.countRecords({ run, task: TASK, kind, ...(from !== undefined ? { from, to } : {}) })).records;
}

export async function loadPayloads<T>(store: ResultStore, run: string, kind: VisionKind, from?: number, to?: number): Promise<T[]> {
  return (await collect(store.streamRecords({ run, task: TASK, kind, ...(from !== undefined ? { from, to } : {}) }))).map((r) => r.payload as T);
}

export async function loadCalls(store: ResultStore, run: string, from: number, to: number): Promise<Map<string, string>> {
  const rows = await collect(store.streamRecords({ run, task: TASK, kind: 'call', from, to }));
  return new Map(rows.map((r) => [r.key, (r.payload as { text: string }).text]));
}

export const loadDescriptions = (store: ResultStore, run: string) => loadPayloads<DescriptionRecord>(store, run, 'description');
