/** Batched autoregressive generation with the KV cache: left-padded prefill, then one token per row per step. */
import { random } from '@huggingface/transformers';
import { forward } from './forward.js';
import type { LocalModel } from './model.js';
import { pickToken, type SamplingParams } from './sampling.js';

export interface GenerateParams extends SamplingParams {
  maxNewTokens: number;
  /** Generation ends at the first of these strings, which is cut from the text (as OpenAI-style APIs do). */
  stop: string[];
  /** Seeds this row's own RNG, so a row samples the same text alone or in any batch; unset = OS entropy. */
  seed?: number;
}

export interface Generated {
  /** New token ids, including a final eos/stop token id if one ended the row. */
  tokens: number[];
  /** New tokens decoded with skip_special_tokens, cut at the first stop string. */
  text: string;
}

export interface GenerateOptions {
  maxBatch: number;
  /** Token ids that end a row (model eos ids + the prompt format's stop tokens). */
  stopIds: number[];
  signal?: AbortSignal;
}

export async function generateTokens(
  model: LocalModel,
  prompts: number[][],
  params: GenerateParams[],
  opts: GenerateOptions,
): Promise<Generated[]> {
  const out = new Array<Generated>(prompts.length);
  // Similar lengths together: less padding in the prefill.
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a]!.length - prompts[b]!.length);
  for (let start = 0; start < order.length; start += opts.maxBatch) {
    const rows = order.slice(start, start + opts.maxBatch);
    const results = await generateBatch(
      model,
      rows.map((i) => prompts[i]!),
      rows.map((i) => params[i]!),
      opts,
    );
    rows.forEach((i, k) => (out[i] = results[k]!));
  }
  return out;
}

async function generateBatch(
  model: LocalModel,
  prompts: number[][],
  params: GenerateParams[],
  opts: GenerateOptions,
): Promise<Generated[]> {
  const stopIds = new Set(opts.stopIds);
  const rngs = params.map((p) => new random.Random(p.seed));
  const rows = params.map((): Generated & { done: boolean } => ({ tokens: [], text: '', done: false }));
  const decode = (tokens: number[]) =>
    tokens.length ? model.tokenizer.decode(tokens, { skip_special_tokens: true }) : '';

  let step = await forward(model, null, prompts);
  for (;;) {
    opts.signal?.throwIfAborted();
    rows.forEach((row, b) => {
      if (row.done) return;
      const p = params[b]!;
      if (p.maxNewTokens <= 0) return void (row.done = true);
      const token = pickToken(step.logits[b]!, p, () => rngs[b]!.random());
      row.tokens.push(token);
      const cut = p.stop.length ? firstStop(decode(row.tokens), p.stop) : -1;
      if (stopIds.has(token) || cut >= 0 || row.tokens.length >= p.maxNewTokens) row.done = true;
    });
    if (rows.every((r) => r.done)) break;
    // Finished rows keep stepping with a pad token (their output is ignored) so the batch stays rectangular.
    const next = rows.map((r) => [r.done ? model.padId : r.tokens.at(-1)!]);
    step = await forward(model, step.state, next);
  }
  return rows.map(({ tokens }, b) => {
    const text = decode(tokens);
    const cut = firstStop(text, params[b]!.stop);
    return { tokens, text: cut >= 0 ? text.slice(0, cut) : text };
  });
}

function firstStop(text: string, stops: string[]): number {
  let first = -1;
  for (const s of stops) {
    const i = s ? text.indexOf(s) : -1;
    if (i >= 0 && (first < 0 || i < first)) first = i;
  }
  return first;
}
