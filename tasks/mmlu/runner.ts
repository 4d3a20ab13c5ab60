/**
 * Scores one batch of MMLU questions for every persona and upserts the cells. Plain TypeScript: the Temporal
 * activity wraps it (heartbeats, retries) and the benchmark calls it directly.
 */
import type { BackendError, Outcome, PromptInput } from '../../backends/types.js';
import { BatchFailure, promptHash, worstError } from '../batch.js';
import type { BatchContext as TaskBatchContext, BatchOutcome, BatchRange } from '../types.js';
import { chatSystem, formatPrompt } from '../../prompts/formats.js';
import { argmax, exactOption, softmax } from '../../scoring/options.js';
import type { CellResult } from '../../store/results.js';
import { cellKey } from '../../store/results.js';
import type { MmluSpec } from '../../tasks/mmlu/config.js';
import { loadSubject, mmluItemId, OPTION_LETTERS, type MmluItem } from './data.js';
import { renderMmluPrompt } from './prompts.js';

/** What a batch heartbeats: the index (within the batch) of the next question to score. */
export interface BatchProgress {
  next: number;
}

type BatchContext = TaskBatchContext<MmluSpec>;

export function mmluPrompt(spec: MmluSpec, item: MmluItem, persona: string): PromptInput {
  const user = renderMmluPrompt(spec.template, item, persona);
  const system = chatSystem(spec.chat, persona);
  return { ...(system !== undefined ? { system } : {}), user, text: formatPrompt(spec.format, { system, user }) };
}

/**
 * Scored cells are written together once FLUSH_ROWS are waiting or FLUSH_MS have passed since the last write (a
 * slow model: after every question). One write is in flight while the next questions are scored, and the heartbeat
 * only ever names questions whose cells are stored.
 */
const FLUSH_ROWS = 1024;
const FLUSH_MS = 200;

/** A batch is questions [start, end) of the subject `group`, for every persona; it resumes from its heartbeat. */
export async function runMmluBatch(ctx: BatchContext, batch: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const backend = await ctx.backend(); // every MMLU batch asks the LLM: build it (and fail on it) first
  const items = loadSubject(spec.data.path, batch.group, spec.data.split).slice(batch.start, batch.end);
  const ids = items.map((it) => mmluItemId(it.subject, it.split, it.index));
  const done = await store.doneKeys(spec.run, 'mmlu', ids);
  let pending: CellResult[] = [];
  let lastFlush = Date.now();
  let writing: Promise<void> = Promise.resolve();
  const flush = async (next: number) => {
    await writing; // a failed write fails the batch here
    const rows = pending;
    pending = [];
    lastFlush = Date.now();
    writing = store.upsertCells(rows).then(() => ctx.onProgress?.({ next } satisfies BatchProgress));
    writing.catch(() => undefined); // observed by the next flush or the end of the batch
  };
  for (let q = (ctx.resume as BatchProgress | undefined)?.next ?? 0; q < items.length; q++) {
    const item = items[q] as MmluItem;
    const id = ids[q] as string;
    const todo = spec.personas.filter((p) => !done.has(cellKey(p, id)));
    if (todo.length > 0) {
      const prompts = todo.map((p): PromptInput => ({ ...mmluPrompt(spec, item, p), persona: p }));
      const outcomes =
        spec.scoring.mode === 'logits'
          ? await scoreByLogits(ctx, prompts)
          : spec.scoring.mode === 'generate_fork'
            ? await scoreByForkRule(ctx, prompts)
            : await Promise.all(prompts.map((p) => scoreByGeneration(ctx, p)));
      const cells: CellResult[] = [];
      const errors: BackendError[] = [];
      outcomes.forEach((o, i) => {
        if (!o.ok) return void errors.push(o.error);
        cells.push({
          run: spec.run,
          task: 'mmlu',
          persona: todo[i] as string,
          item: id,
          sample: 0,
          subject: item.subject,
          itemIndex: item.index,
          label: item.label,
          promptHash: promptHash(prompts[i] as PromptInput),
          backend: backend.id,
          ...o.value,
          correct: o.value.prediction === null ? null : o.value.prediction === item.label,
        });
      });
      pending.push(...cells);
      if (errors.length > 0) {
        // Keep what this question and the ones before it finished; the retry resumes at this question.
        await flush(q);
        await writing;
        throw new BatchFailure(worstError(errors));
      }
    }
    if (pending.length >= FLUSH_ROWS || Date.now() - lastFlush >= FLUSH_MS || q === items.length - 1) await flush(q + 1);
  }
  await writing;
  // Cells of these items now stored: idempotent, so a retried batch reports the same.
  return store.countCells(spec.run, 'mmlu', ids);
}

type Scored = Pick<CellResult, 'method' | 'logprobs' | 'absent' | 'prediction' | 'discarded' | 'rawText' | 'attempts'>;

async function scoreByLogits(ctx: BatchContext, prompts: PromptInput[]): Promise<Outcome<Scored>[]> {
  const outcomes = await (await ctx.backend()).scoreOptions(
    prompts.map((prompt) => ({ prompt, options: [...OPTION_LETTERS] })),
    ctx.signal,
  );
  return outcomes.map((o) => {
    if (!o.ok) return o;
    const s = o.value;
    // An API that returned none of A-D in its top list gives no information: the cell is discarded.
    const discarded = s.absent.length === OPTION_LETTERS.length;
    return {
      ok: true,
      value: {
        method: s.method,
        logprobs: s.logprobs,
        absent: s.absent,
        prediction: discarded ? null : argmax(softmax(s.logprobs)),
        discarded,
        rawText: s.raw ?? null,
        attempts: 1,
      },
    };
  });
}

/**
 * The fork's late rule (SPEC §5, `module_step_llama`): one generation; keep its letters, upper-cased; A-D is the
 * answer, anything else counts as "C" and is marked invalid (method `generate_fork_invalid`), never discarded.
 */
async function scoreByForkRule(ctx: BatchContext, prompts: PromptInput[]): Promise<Outcome<Scored>[]> {
  const { scoring } = ctx.spec;
  const outcomes = await (await ctx.backend()).generate(
    prompts.map((prompt) => ({ prompt, maxTokens: scoring.maxTokens, temperature: scoring.temperature, topP: scoring.topP, topK: scoring.topK, seed: scoring.seed })),
    ctx.signal,
  );
  return outcomes.map((o) => {
    if (!o.ok) return o;
    const letters = o.value.text.replace(/[^A-Za-z]/g, '').toUpperCase();
    const index = exactOption(letters, OPTION_LETTERS);
    return {
      ok: true,
      value: {
        method: index === null ? 'generate_fork_invalid' : 'generate_fork',
        logprobs: null,
        absent: [],
        prediction: index ?? OPTION_LETTERS.indexOf('C'),
        discarded: false,
        rawText: o.value.text,
        attempts: 1,
      },
    };
  });
}

/** The API path: accept only an exact "A".."D"; re-ask up to maxTries more times, then discard. */
async function scoreByGeneration(ctx: BatchContext, prompt: PromptInput): Promise<Outcome<Scored>> {
  const { scoring } = ctx.spec;
  let text = '';
  for (let attempt = 1; attempt <= scoring.maxTries + 1; attempt++) {
    const [o] = await (await ctx.backend()).generate(
      [
        {
          prompt,
          maxTokens: scoring.maxTokens,
          temperature: scoring.temperature,
          topP: scoring.topP,
          topK: scoring.topK,
          // Each re-ask must be able to differ: a fixed seed per attempt keeps a seeded run reproducible.
          seed: scoring.seed === undefined ? undefined : scoring.seed + attempt - 1,
        },
      ],
      ctx.signal,
    );
    if (!o) throw new Error('backend returned no outcome');
    if (!o.ok) return o;
    text = o.value.text;
    const prediction = exactOption(text, OPTION_LETTERS);
    if (prediction !== null) {
      return { ok: true, value: { method: 'generate', logprobs: null, absent: [], prediction, discarded: false, rawText: text, attempts: attempt } };
    }
  }
  return { ok: true, value: { method: 'generate', logprobs: null, absent: [], prediction: null, discarded: true, rawText: text, attempts: scoring.maxTries + 1 } };
}
