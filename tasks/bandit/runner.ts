/**
 * Plays a batch of games × all personas in lockstep: each round asks the backend for the next choice of every
 * unfinished game at once (a local model batches those forward passes). Finished games are stored at once, with
 * all their trials; unfinished ones are reported as progress (actions so far), so a retried batch resumes
 * mid-game. A game is fully determined by the run seed, its keys and its actions, so a seeded run replays the same.
 */
import type { BackendError, Outcome, PromptInput } from '../../backends/types.js';
import type { BanditSpec } from '../../tasks/bandit/config.js';
import { saveGames, storedGameKeys, gameKey, countGames, type StoredGame, type StoredTrial } from './records.js';
import { worstError, BatchFailure, promptHash } from '../batch.js';
import type { BatchContext, BatchOutcome, BatchRange } from '../types.js';
import type { Arm } from './env.js';
import { choiceStream, chooseFromLogprobs, instanceStream, newGame, parseApiChoice, type BanditGame } from './game.js';

/** What a game needs to be resumed: the rest follows from the seed. */
export interface GameProgress {
  persona: string;
  game: number;
  actions: Arm[];
  /** Per played trial: what the model said. */
  extras: TrialExtra[];
  /** Failed tries on the current trial (generate mode). */
  tries: number;
}

export interface BanditProgress {
  games: GameProgress[];
}

interface TrialExtra {
  logprob1: number | null;
  logprob2: number | null;
  attempts: number;
  rawText: string | null;
  promptHash: string;
}

interface Live {
  game: BanditGame;
  extras: TrialExtra[];
  tries: number;
}

const OPTIONS = ['1', '2'];

export async function runBanditBatch(ctx: BatchContext<BanditSpec>, batch: BatchRange): Promise<BatchOutcome> {
  const { spec, store } = ctx;
  const backend = await ctx.backend(); // every round asks the LLM: build it (and fail on it) first
  const stored = await storedGameKeys(store, spec.run, batch.start, batch.end);
  const resumed = new Map(((ctx.resume as BanditProgress | undefined)?.games ?? []).map((g) => [gameKey(g.persona, g.game), g]));
  const live: Live[] = [];
  for (const persona of spec.personas) {
    for (let game = batch.start; game < batch.end; game++) {
      if (stored.has(gameKey(persona, game))) continue;
      const g = newGame(persona, game, { rng: instanceStream(spec.seed, spec.design, persona, game) }, spec.trials);
      const saved = resumed.get(gameKey(persona, game));
      for (const a of saved?.actions ?? []) g.applyChoice(a);
      live.push({ game: g, extras: saved?.extras.slice(0, saved.actions.length) ?? [], tries: saved?.tries ?? 0 });
    }
  }

  let active = live.filter((l) => !l.game.isDone);
  while (active.length > 0) {
    const prompts = active.map((l) => ({ ...promptOf(l.game.currentPrompt(spec.format, spec.chat)), persona: l.game.persona }));
    const outcomes = spec.scoring.mode === 'logits' ? await byLogits(ctx, active, prompts) : await byGeneration(ctx, active, prompts);
    const errors = outcomes.flatMap((o): BackendError[] => (o.ok ? [] : [o.error]));
    const finished = active.filter((l) => l.game.isDone);
    if (finished.length > 0) await saveGames(store, finished.map((l) => toStored(spec, backend.id, l)));
    active = active.filter((l) => !l.game.isDone);
    ctx.onProgress?.({ games: active.map(progressOf) } satisfies BanditProgress);
    if (errors.length > 0) throw new BatchFailure(worstError(errors));
  }
  const { games, abandoned } = await countGames(store, spec.run, batch.start, batch.end);
  return { cells: games, discarded: abandoned };
}

function promptOf(p: { system?: string; user: string; text: string }): PromptInput {
  return { ...(p.system !== undefined ? { system: p.system } : {}), user: p.user, text: p.text };
}

/** Local path: sample machine 1 or 2 from softmax(log-probs / temperature) with the trial's own stream. */
async function byLogits(ctx: BatchContext<BanditSpec>, active: Live[], prompts: PromptInput[]): Promise<Outcome<unknown>[]> {
  const { spec } = ctx;
  const outcomes = await (await ctx.backend()).scoreOptions(prompts.map((prompt) => ({ prompt, options: OPTIONS })), ctx.signal);
  outcomes.forEach((o, i) => {
    if (!o.ok) return;
    const l = active[i] as Live;
    const [lp1, lp2] = o.value.logprobs as [number, number];
    const u = choiceStream(spec.seed, l.game.persona, l.game.game, l.game.trial).uniform();
    l.extras.push({ logprob1: lp1, logprob2: lp2, attempts: 1, rawText: o.value.raw ?? null, promptHash: promptHash(prompts[i] as PromptInput) });
    l.game.applyChoice(chooseFromLogprobs(lp1, lp2, spec.scoring.temperature, u));
  });
  return outcomes;
}

/** API path: only an exact "1" or "2" counts; after max_tries failures on one trial the game is abandoned. */
async function byGeneration(ctx: BatchContext<BanditSpec>, active: Live[], prompts: PromptInput[]): Promise<Outcome<unknown>[]> {
  const { spec } = ctx;
  const outcomes = await (await ctx.backend()).generate(prompts.map((prompt) => ({ prompt })), ctx.signal);
  outcomes.forEach((o, i) => {
    if (!o.ok) return;
    const l = active[i] as Live;
    l.tries++;
    const arm = parseApiChoice(o.value.text);
    if (arm !== null) {
      l.extras.push({ logprob1: null, logprob2: null, attempts: l.tries, rawText: o.value.text, promptHash: promptHash(prompts[i] as PromptInput) });
      l.game.applyChoice(arm);
      l.tries = 0;
    } else if (l.tries >= spec.scoring.maxTries) {
      l.game.abandon();
    }
  });
  return outcomes;
}

function progressOf(l: Live): GameProgress {
  const s = l.game.snapshot();
  return { persona: s.persona, game: s.game, actions: s.actions, extras: l.extras, tries: l.tries };
}

function toStored(spec: BanditSpec, backend: string, l: Live): StoredGame {
  const g = l.game;
  return {
    run: spec.run,
    persona: g.persona,
    game: g.game,
    mu1: g.instance.mean1,
    mu2: g.instance.mean2,
    abandoned: g.abandoned,
    backend,
    trials: g.rows.map((r, t): StoredTrial => ({
      trial: r.trial,
      V: r.V,
      RU: r.RU,
      'V/TU': r['V/TU'],
      action1: r.action1,
      regret: r.regret,
      reward: r.reward,
      mu1: r.mu1,
      mu2: r.mu2,
      ...(l.extras[t] as TrialExtra),
    })),
  };
}
