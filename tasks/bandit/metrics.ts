/** Bandit metrics per game and per persona (SPEC §3 "Metrics per persona", §6.4). */
import { mean, tCi95, type Interval } from '../../stats/intervals.js';
import type { Arm } from './env.js';

/** 'faithful' reproduces the seed's bug (pred_last is always 1); 'intended' scores the last choice. */
export const ACC_LAST_MODES = ['faithful', 'intended'] as const;
export type AccLastMode = (typeof ACC_LAST_MODES)[number];

export interface GameMetrics {
  /** Mean expected regret over the game's trials, rounded to float32 like the seed's float32 tensor mean. */
  meanRegret: number;
  /** 1 if machine 1 was chosen in more than half of the trials, else 2 (a 5/5 tie gives 2). */
  predAvg: 1 | 2;
  /** What the seed computes: `1 if env.action1 else 2` on a non-empty list, so always 1. */
  predLastAsCoded: 1;
  predLastIntended: 1 | 2;
  /** 1 if mu1 > mu2 else 2 (a tie gives 2). */
  label: 1 | 2;
}

export type GameOutcome = { abandoned: true } | ({ abandoned: false } & GameMetrics);

export function gameMetrics(actions: readonly Arm[], regrets: readonly number[], mean1: number, mean2: number): GameMetrics {
  if (actions.length === 0 || actions.length !== regrets.length) throw new RangeError('need one regret per action, at least one');
  const share1 = actions.filter((a) => a === 0).length / actions.length;
  return {
    meanRegret: Math.fround(mean(regrets)),
    predAvg: share1 > 0.5 ? 1 : 2,
    predLastAsCoded: 1,
    predLastIntended: actions[actions.length - 1] === 0 ? 1 : 2,
    label: mean1 > mean2 ? 1 : 2,
  };
}

export interface PersonaMetrics {
  /** Completed games (the denominators below). */
  games: number;
  /** Games given up after too many unparseable API answers: no rows, no metric update, as in the seed. */
  abandoned: number;
  /** `test/{p}/loss`: mean over games of the per-game mean expected regret (NaN with no completed game). */
  loss: number;
  /** Student-t 95 % interval of `loss` over games; null with fewer than 2 games. */
  lossCi95: Interval | null;
  accAvg: number;
  accLast: number;
}

export function personaMetrics(outcomes: readonly GameOutcome[], accLastMode: AccLastMode): PersonaMetrics {
  const done = outcomes.filter((o): o is { abandoned: false } & GameMetrics => !o.abandoned);
  const abandoned = outcomes.length - done.length;
  if (done.length === 0) return { games: 0, abandoned, loss: NaN, lossCi95: null, accAvg: NaN, accLast: NaN };
  const share = (hit: (g: GameMetrics) => boolean) => done.filter(hit).length / done.length;
  const regrets = done.map((g) => g.meanRegret);
  return {
    games: done.length,
    abandoned,
    loss: mean(regrets),
    lossCi95: tCi95(regrets),
    accAvg: share((g) => g.predAvg === g.label),
    accLast: share((g) => (accLastMode === 'faithful' ? g.predLastAsCoded : g.predLastIntended) === g.label),
  };
}
