/**
 * The describe stage's units, as plain data for the engine: one `DescribeCell` per persona × class × replicate (its
 * prompt, rendered prompt and seed; `class_name` cells need no LLM), then per cell at most one LLM call for the
 * description and one per offending sentence for the cleaning (`cleaningCalls`), and finally the CLIP text of the
 * cleaned description (`clipText`). Everything here is pure and JSON-serialisable.
 */
import type { PromptFormat } from '../../prompts/formats.js';
import { startCleaning, finishCleaning, type CleaningStart, type CleaningState, type CleaningTrace, type PendingClean } from './clean.js';
import { classNameDescription, describePrompt, needsLlm, renderPrompt, SEED_DESCRIBE_TEMPLATE, type DescribeTemplate, type RenderedPrompt } from './prompts.js';
import { cellId, cellSeed, cleanPurpose, replicateIndices } from './seeds.js';
import { SEED_STOP } from './prompts.js';

export interface DescribeSettings {
  template: DescribeTemplate;
  stop: readonly string[];
  format: PromptFormat;
  runSeed: number;
  replicates: number;
}

export const SEED_DESCRIBE_SETTINGS: DescribeSettings = { template: SEED_DESCRIBE_TEMPLATE, stop: SEED_STOP, format: 'vicuna_v1.1', runSeed: 2016, replicates: 1 };

export interface DescribeCell {
  id: string;
  persona: string;
  classIndex: number;
  className: string;
  replicate: number;
  /** null for `class_name`: the description is the class name, no LLM call. */
  prompt: string | null;
  rendered: RenderedPrompt | null;
  seed: number | null;
}

/** Persona-major, then class order, then replicate: the seed's generation order (for logs; seeds do not depend on it). */
export function describeCells(classNames: readonly string[], personas: readonly string[], s: DescribeSettings): DescribeCell[] {
  const dup = classNames.find((c, i) => classNames.indexOf(c) !== i);
  if (dup !== undefined) throw new Error(`class name "${dup}" appears twice: the seed keys descriptions by class name, so two classes would share one`);
  return personas.flatMap((persona) =>
    classNames.flatMap((className, classIndex) =>
      replicateIndices(s.replicates).map((replicate): DescribeCell => {
        const prompt = describePrompt(persona, className, s.template);
        return {
          id: cellId({ persona, className, purpose: 'describe', replicate }),
          persona,
          classIndex,
          className,
          replicate,
          prompt,
          rendered: prompt === null ? null : renderPrompt(s.format, prompt),
          seed: needsLlm(persona) ? cellSeed({ runSeed: s.runSeed, persona, className, purpose: 'describe', replicate }) : null,
        };
      }),
    ),
  );
}

/** One LLM cleaning call of a cell: its own durable unit with its own seed. */
export interface CleaningCall extends PendingClean {
  id: string;
  seed: number;
  rendered: RenderedPrompt;
}

/** Start cleaning a cell's raw LLM output; the pending calls come with ids, seeds and rendered prompts. */
export function startCellCleaning(cell: DescribeCell, raw: string, s: DescribeSettings): { start: CleaningStart; calls: CleaningCall[] } {
  const start = startCleaning(raw, cell.className, s.stop);
  const calls = start.done
    ? []
    : start.pending.map((p) => {
        const purpose = cleanPurpose(p.index);
        return {
          ...p,
          id: cellId({ persona: cell.persona, className: cell.className, purpose, replicate: cell.replicate }),
          seed: cellSeed({ runSeed: s.runSeed, persona: cell.persona, className: cell.className, purpose, replicate: cell.replicate }),
          rendered: renderPrompt(s.format, p.prompt),
        };
      });
  return { start, calls };
}

/** What the describe stage stores per cell (the seed keeps the raw text as `<class>_uncleaned` next to the cleaned). */
export interface DescriptionRecord {
  id: string;
  persona: string;
  classIndex: number;
  className: string;
  replicate: number;
  raw: string | null;
  description: string;
  trace: CleaningTrace | null;
  cleaning: { sentence: string; output: string }[];
}

/** The record of a cell: `raw` is the LLM output (null for class_name), `outputs` those of its cleaning calls. */
export function describeRecord(cell: DescribeCell, raw: string | null, outputs: readonly string[] = [], s: DescribeSettings = SEED_DESCRIBE_SETTINGS): DescriptionRecord {
  const base = { id: cell.id, persona: cell.persona, classIndex: cell.classIndex, className: cell.className, replicate: cell.replicate };
  if (cell.prompt === null) return { ...base, raw: null, description: classNameDescription(cell.className), trace: null, cleaning: [] };
  if (raw === null) throw new Error(`cell ${cell.id} needs the LLM output`);
  const start = startCleaning(raw, cell.className, s.stop);
  if (start.done) {
    if (outputs.length > 0) throw new Error(`cell ${cell.id} needs no cleaning call, got ${outputs.length} outputs`);
    return { ...base, raw, description: start.text, trace: start.trace, cleaning: [] };
  }
  return {
    ...base,
    raw,
    description: finishCleaning(start.state as CleaningState, outputs),
    trace: start.trace,
    cleaning: start.pending.map((p, i) => ({ sentence: p.sentence, output: outputs[i] ?? '' })),
  };
}

/** The CLIP text of a class (M L407–421): `"A photo of " + description`; an empty description gives "A photo of ". */
export function clipText(description: string): string {
  return `A photo of ${description}`;
}
