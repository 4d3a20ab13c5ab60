/** Rows as both SQL stores hold them (JSON as text, booleans as 0/1), mapped to the store's types once. */
import type { CellResult, TaskRecord } from './types.js';

export type Row = Record<string, unknown>;

/** The order reports read a run in (string columns compare bytewise in both stores). */
export const CELL_ORDER = 'subject, item_index, persona, sample, item, task';

export function cellFromRow(r: Row): CellResult {
  return {
    run: r.run as string,
    task: r.task as string,
    persona: r.persona as string,
    item: r.item as string,
    sample: r.sample as number,
    subject: r.subject as string,
    itemIndex: r.item_index as number,
    label: r.label as number,
    promptHash: r.prompt_hash as string,
    method: r.method as string,
    logprobs: r.logprobs_json === null ? null : (JSON.parse(r.logprobs_json as string) as number[]),
    absent: JSON.parse(r.absent_json as string) as string[],
    prediction: r.prediction as number | null,
    correct: r.correct === null ? null : r.correct === 1,
    discarded: r.discarded === 1,
    rawText: r.raw_text as string | null,
    attempts: r.attempts as number,
    backend: r.backend as string,
  };
}

export function recordFromRow(r: Row): TaskRecord {
  return { run: r.run as string, task: r.task as string, kind: r.kind as string, key: r.key as string, unit: r.unit as number, flag: r.flag === 1, payload: JSON.parse(r.payload_json as string) };
}
