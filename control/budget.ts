/**
 * Budgets that pause a run instead of failing it, and the usage they are counted against: plain TypeScript, no I/O
 * but reading the price table. Usage is kept per run (and per persona) in the result store, changed only inside a
 * store transaction together with the rate bucket (control/gate.ts).
 */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../experiment/errors.js';

/** `budget:` of an experiment config (all optional): the run pauses when one is reached. */
export const BudgetConfig = z
  .object({
    /** Model requests (retries and re-asks included). */
    requests: z.number().int().positive().optional(),
    /** Prompt + completion tokens as the server reports them. */
    tokens: z.number().int().positive().optional(),
    /** US dollars, from the price table (configs/prices.yaml). */
    usd: z.number().positive().optional(),
  })
  .strict();
export type Budget = z.output<typeof BudgetConfig>;

/** $ per 1M tokens. */
export interface Price {
  input: number;
  output: number;
}

export interface Usage {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export interface RunUsage extends Usage {
  v: 1;
  personas: Record<string, Usage>;
}

export const ZERO_USAGE: Usage = { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };

export function emptyRunUsage(): RunUsage {
  return { v: 1, ...ZERO_USAGE, personas: {} };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    requests: a.requests + b.requests,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    costUsd: a.costUsd + b.costUsd,
  };
}

export function costOf(promptTokens: number, completionTokens: number, price: Price | undefined): number {
  return price ? (promptTokens * price.input + completionTokens * price.output) / 1e6 : 0;
}

/** Add per-persona deltas (persona '' = not attributed) to a run's usage. */
export function addRunUsage(prev: RunUsage | undefined, deltas: Record<string, Usage>): RunUsage {
  const out: RunUsage = prev ? { ...prev, personas: { ...prev.personas } } : emptyRunUsage();
  for (const [persona, d] of Object.entries(deltas)) {
    Object.assign(out, addUsage(out, d));
    if (persona) out.personas[persona] = addUsage(out.personas[persona] ?? ZERO_USAGE, d);
  }
  return out;
}

/** Which limit of `budget` `usage` has reached, as a sentence; undefined while within budget. */
export function budgetReached(usage: Usage, budget: Budget | undefined): string | undefined {
  if (!budget) return undefined;
  if (budget.requests !== undefined && usage.requests >= budget.requests) return `the budget of ${budget.requests} requests is used (${usage.requests})`;
  const tokens = usage.promptTokens + usage.completionTokens;
  if (budget.tokens !== undefined && tokens >= budget.tokens) return `the budget of ${budget.tokens} tokens is used (${tokens})`;
  if (budget.usd !== undefined && usage.costUsd >= budget.usd) return `the budget of $${budget.usd} is used ($${usage.costUsd.toFixed(4)})`;
  return undefined;
}

/** Requests that may still start under `budget.requests` (Infinity without one). */
export function requestsLeft(usage: Usage, budget: Budget | undefined): number {
  return budget?.requests === undefined ? Infinity : Math.max(0, budget.requests - usage.requests);
}

const PriceTable = z.record(z.string().min(1), z.object({ input: z.number().min(0), output: z.number().min(0) }).strict());

/** The price of `model` from a prices.yaml; a usd budget with an unknown model is bad input (fails at planning). */
export function priceFor(file: string, model: string, budget: Budget | undefined, configFile?: string): Price | undefined {
  let table: z.output<typeof PriceTable>;
  try {
    const parsed = PriceTable.safeParse(parseYaml(readFileSync(file, 'utf8')));
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new InputError(i ? i.path.join('.') : '(root)', `bad price entry: ${i?.message ?? parsed.error.message}`, 'give each model `input:` and `output:` in $ per 1M tokens', file);
    }
    table = parsed.data;
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (budget?.usd === undefined) return undefined;
    throw new InputError('budget.usd', `the price table ${file} cannot be read (${(err as Error).message})`, 'restore configs/prices.yaml, or budget by requests or tokens instead', configFile);
  }
  const price = table[model];
  if (!price && budget?.usd !== undefined) {
    throw new InputError('budget.usd', `model "${model}" has no price in ${file}`, `add \`${model}: {input: <$ per 1M input tokens>, output: <$ per 1M output tokens>}\` to ${file}, or budget by requests or tokens instead`, configFile);
  }
  return price;
}
