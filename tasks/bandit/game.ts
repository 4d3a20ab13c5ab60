/**
 * One persona's game as a step-by-step state machine, so a driver can advance many games in lockstep (one
 * batched LLM call per trial across personas). A game is fully determined by its bandit instance plus the
 * actions so far: `snapshot()` / `restoreGame()` replay them after a crash.
 */
import type { ChatSpec, PromptFormat } from '../../prompts/formats.js';
import { BanditEnv, NUM_TRIALS, sampleInstance, type Arm, type BanditInstance } from './env.js';
import { gameMetrics, type GameOutcome } from './metrics.js';
import { buildBanditPrompt, type BanditPrompt } from './prompts.js';
import { streamFor, type Rng, type StreamKey } from './rng.js';

/** ChatGPT path: attempts per trial before the whole game is abandoned (SPEC §3 "Action selection"). */
export const MAX_API_TRIES = 20;

/**
 * 'faithful': a fresh bandit per persona and game, as the seed's per-persona `reset()` does (SPEC §6.6).
 * 'paired': every persona plays the same instance for a given game index, which removes bandit-to-bandit
 * variance from persona comparisons.
 */
export const BANDIT_DESIGNS = ['faithful', 'paired'] as const;
export type BanditDesign = (typeof BANDIT_DESIGNS)[number];

/** The stream a game's bandit instance is drawn from. */
export function instanceStream(runSeed: StreamKey, design: BanditDesign, persona: string, game: number): Rng {
  return design === 'paired' ? streamFor(runSeed, 'bandit-env', game) : streamFor(runSeed, 'bandit-env', persona, game);
}

/** The stream for one trial's action sampling: per trial, so a resumed game needs no RNG state. */
export function choiceStream(runSeed: StreamKey, persona: string, game: number, trial: number): Rng {
  return streamFor(runSeed, 'bandit-choice', persona, game, trial);
}

/** One CSV row as the seed logs it (minus its constant `prompt` column), plus persona and game. */
export interface TrialRow {
  persona: string;
  game: number;
  /** 0-based, as in the seed's CSV. */
  trial: number;
  V: number;
  RU: number;
  'V/TU': number;
  action1: boolean;
  /** Expected regret, float32. */
  regret: number;
  /** Raw float64 reward, not rounded. */
  reward: number;
  mu1: number;
  mu2: number;
}

export interface GameSnapshot {
  persona: string;
  game: number;
  instance: BanditInstance;
  actions: Arm[];
  abandoned: boolean;
}

export class BanditGame {
  private readonly env: BanditEnv;
  private readonly trialRows: TrialRow[] = [];
  private readonly actions: Arm[] = [];
  private isAbandoned = false;

  constructor(
    readonly persona: string,
    readonly game: number,
    readonly instance: BanditInstance,
  ) {
    this.env = new BanditEnv(instance);
  }

  get isDone(): boolean {
    return this.isAbandoned || this.env.done;
  }

  get abandoned(): boolean {
    return this.isAbandoned;
  }

  /** 0-based index of the trial awaiting a choice. */
  get trial(): number {
    return this.env.trial;
  }

  /** Rows so far; the seed writes them only for completed games (`isDone && !abandoned`). */
  get rows(): readonly TrialRow[] {
    return this.trialRows;
  }

  currentPrompt(format: PromptFormat, chat?: ChatSpec): BanditPrompt {
    if (this.isDone) throw new Error('game is over');
    return buildBanditPrompt(this.persona, this.env.trial, this.env.history, format, this.env.numTrials, chat);
  }

  applyChoice(action: Arm): TrialRow {
    if (this.isAbandoned) throw new Error('game was abandoned');
    const s = this.env.step(action);
    const row: TrialRow = {
      persona: this.persona,
      game: this.game,
      trial: s.trial,
      V: s.V,
      RU: s.RU,
      'V/TU': s.VTU,
      action1: s.action1,
      regret: s.regret,
      reward: s.reward,
      mu1: this.env.mean1,
      mu2: this.env.mean2,
    };
    this.actions.push(action);
    this.trialRows.push(row);
    return row;
  }

  /** Give up the game (e.g. MAX_API_TRIES unparseable answers): it then counts only as abandoned. */
  abandon(): void {
    if (this.env.done) throw new Error('a completed game cannot be abandoned');
    this.isAbandoned = true;
  }

  /** Per-game metrics once the game is over. */
  outcome(): GameOutcome {
    if (!this.isDone) throw new Error('game is not over');
    if (this.isAbandoned) return { abandoned: true };
    const regrets = this.trialRows.map((r) => r.regret);
    return { abandoned: false, ...gameMetrics(this.actions, regrets, this.env.mean1, this.env.mean2) };
  }

  snapshot(): GameSnapshot {
    return { persona: this.persona, game: this.game, instance: this.instance, actions: [...this.actions], abandoned: this.isAbandoned };
  }
}

export type GameSource = { rng: Rng } | { instance: BanditInstance };

/** A new game from a stream (see `instanceStream`) or from an explicit instance. */
export function newGame(persona: string, game: number, source: GameSource, numTrials = NUM_TRIALS): BanditGame {
  const instance = 'rng' in source ? sampleInstance(source.rng, numTrials) : source.instance;
  return new BanditGame(persona, game, instance);
}

export function restoreGame(s: GameSnapshot): BanditGame {
  const g = new BanditGame(s.persona, s.game, s.instance);
  for (const a of s.actions) g.applyChoice(a);
  if (s.abandoned) g.abandon();
  return g;
}

/**
 * Local-model choice: sample from softmax(z / temperature) over the two answer tokens, given a uniform draw
 * in [0, 1). Log-probabilities and raw logits give the same softmax. temperature 0 means argmax (ties → machine 1,
 * like torch's argmax).
 */
export function chooseFromLogprobs(lp1: number, lp2: number, temperature: number, uniform01: number): Arm {
  if (!(temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
  if (!(uniform01 >= 0 && uniform01 < 1)) throw new RangeError(`uniform draw must be in [0, 1), got ${uniform01}`);
  if (Number.isNaN(lp1) || Number.isNaN(lp2)) throw new RangeError('log-probabilities must not be NaN');
  if (temperature === 0) return lp1 >= lp2 ? 0 : 1;
  return uniform01 < probMachine1(lp1, lp2, temperature) ? 0 : 1;
}

/** softmax([lp1, lp2] / T)[0] = 1 / (1 + e^((lp2 − lp1)/T)), written so that infinities and huge gaps do not give NaN. */
export function probMachine1(lp1: number, lp2: number, temperature: number): number {
  if (lp1 === lp2) return 0.5; // also covers equal infinities
  const d = (lp2 - lp1) / temperature;
  return d > 0 ? Math.exp(-d) / (1 + Math.exp(-d)) : 1 / (1 + Math.exp(d));
}

/** ChatGPT answer: exactly "1" or "2" (no trimming, as in the seed); anything else is a failed try (null). */
export function parseApiChoice(text: string): Arm | null {
  return text === '1' ? 0 : text === '2' ? 1 : null;
}
