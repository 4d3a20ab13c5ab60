/** The two-armed bandit's config: its schema, its spec, and how the one resolves into the other. */
import { z } from 'zod';
import type { CommonSpec, ResolveContext } from '../../experiment/load.js';
import { commonFields } from '../../experiment/schema.js';
import { BANDIT_DESIGNS } from './game.js';
import { ACC_LAST_MODES } from './metrics.js';

const posInt = z.number().int().positive();
const common = commonFields('games_per_batch', 10);

/** The two-armed bandit (SPEC §3): age personas play games of `trials` choices between two slot machines. */
export const BanditConfig = z
  .object({
    name: common.name,
    task: z.literal('bandit'),
    /** Games per persona (the seed plays 2000). */
    games: posInt.default(100),
    trials: posInt.default(10),
    /** Run seed: every persona × game draws its bandit and its choices from its own stream of it. */
    seed: z.union([z.number().int(), z.string().min(1)]).default(2016),
    /** faithful: a fresh bandit per persona and game, as the seed; paired: all personas play the same bandits. */
    design: z.enum(BANDIT_DESIGNS).default('faithful'),
    personas: common.personas.default(['ages']),
    format: common.format,
    chat: common.chat,
    scoring: z
      .object({
        /** logits: sample from softmax(log-probs of "1"/"2" / temperature); generate: exact "1" or "2" only. */
        mode: z.enum(['logits', 'generate']).default('logits'),
        temperature: z.number().min(0).default(1),
        /** generate: tries per trial before the game is abandoned. */
        max_tries: posInt.default(20),
      })
      .strict()
      .default({ mode: 'logits', temperature: 1, max_tries: 20 }),
    metrics: z
      .object({ acc_last: z.enum(ACC_LAST_MODES).default('faithful') })
      .strict()
      .default({ acc_last: 'faithful' }),
    model: common.model,
    models: common.models,
    execution: common.execution,
    output: common.output,
    budget: common.budget,
  })
  .strict();


export type BanditConfigParsed = z.output<typeof BanditConfig>;

export interface BanditSpec extends CommonSpec {
  task: 'bandit';
  games: number;
  trials: number;
  seed: number | string;
  design: BanditConfigParsed['design'];
  scoring: { mode: BanditConfigParsed['scoring']['mode']; temperature: number; maxTries: number };
  accLast: BanditConfigParsed['metrics']['acc_last'];
}

export function resolveBandit(cfg: BanditConfigParsed, ctx: ResolveContext): BanditSpec {
  const results = {
    games: cfg.games,
    trials: cfg.trials,
    seed: cfg.seed,
    design: cfg.design,
    scoring: { mode: cfg.scoring.mode, temperature: cfg.scoring.temperature, maxTries: cfg.scoring.max_tries },
    accLast: cfg.metrics.acc_last,
  };
  // The fork's system message on Llama-3.
  return { ...ctx.common(cfg, results, { unitsPerBatch: cfg.execution.games_per_batch, defaultSystem: 'You are a {persona}.' }), ...results, task: 'bandit' };
}

