import { describe, expect, it } from 'vitest';
import type { Arm } from '../tasks/bandit/env.js';
import {
  BanditGame,
  choiceStream,
  chooseFromLogprobs,
  instanceStream,
  MAX_API_TRIES,
  newGame,
  parseApiChoice,
  probMachine1,
  restoreGame,
} from '../tasks/bandit/game.js';
import { gameMetrics, personaMetrics, type GameOutcome } from '../tasks/bandit/metrics.js';
import { golden } from './support/golden.js';

const trace = golden('bandit.json').env_trace;
const inst = {
  mean1: trace.inputs.mean1_float32,
  mean2: trace.inputs.mean2_float32,
  R1s: trace.inputs.R1s_float64,
  R2s: trace.inputs.R2s_float64,
};
const actions = trace.inputs.actions_index0 as Arm[];

function playTrace(): BanditGame {
  const g = newGame(trace.persona, 0, { instance: inst });
  for (const a of actions) {
    expect(g.isDone).toBe(false);
    g.currentPrompt('plain');
    g.applyChoice(a);
  }
  return g;
}

describe('BanditGame on the golden trace', () => {
  it('yields the seed CSV rows', () => {
    const g = playTrace();
    expect(g.isDone).toBe(true);
    expect(g.rows).toHaveLength(10);
    g.rows.forEach((row, i) => {
      const p = trace.per_trial[i];
      expect(row).toEqual({
        persona: '7 year old',
        game: 0,
        trial: i,
        V: p.V,
        RU: p.RU,
        'V/TU': p['V/TU'],
        action1: p.action1,
        regret: p.regret_float32,
        reward: p.reward,
        mu1: inst.mean1,
        mu2: inst.mean2,
      });
    });
  });

  it('gives the golden per-game metrics', () => {
    const o = playTrace().outcome();
    const m = trace.metrics;
    expect(o).toEqual({
      abandoned: false,
      meanRegret: m.loss_mean_regret,
      predAvg: m.pred_avg,
      predLastAsCoded: m.pred_last_as_coded,
      predLastIntended: m.pred_last_intended,
      label: m.label,
    });
  });

  it('renders the golden prompts from its own state', () => {
    const g = newGame(trace.persona, 0, { instance: inst });
    actions.forEach((a, i) => {
      expect(g.currentPrompt('llama3_chat').text).toBe(trace.prompts[i].llama3_fork);
      g.applyChoice(a);
    });
    expect(() => g.currentPrompt('plain')).toThrow();
  });

  it('resumes from a JSON snapshot mid-game', () => {
    const g = newGame(trace.persona, 0, { instance: inst });
    actions.slice(0, 4).forEach((a) => g.applyChoice(a));
    const resumed = restoreGame(JSON.parse(JSON.stringify(g.snapshot())));
    expect(resumed.trial).toBe(4);
    expect(resumed.currentPrompt('plain')).toEqual(g.currentPrompt('plain'));
    expect(resumed.rows).toEqual(g.rows);
  });

  it('counts an abandoned game only as abandoned', () => {
    const g = newGame('x', 1, { instance: inst });
    g.applyChoice(0);
    g.abandon();
    expect(g.isDone).toBe(true);
    expect(g.outcome()).toEqual({ abandoned: true });
    expect(() => g.applyChoice(0)).toThrow();
    expect(restoreGame(g.snapshot()).abandoned).toBe(true);
  });
});

describe('designs', () => {
  it('paired: every persona gets the same instance; faithful: a fresh one per persona', () => {
    const paired = ['1 year old', '60 year old'].map((p) => newGame(p, 5, { rng: instanceStream(42, 'paired', p, 5) }).instance);
    expect(paired[0]).toEqual(paired[1]);
    const faithful = ['1 year old', '60 year old'].map((p) => newGame(p, 5, { rng: instanceStream(42, 'faithful', p, 5) }).instance);
    expect(faithful[0]!.mean1).not.toBe(faithful[1]!.mean1);
    expect(newGame('1 year old', 6, { rng: instanceStream(42, 'paired', '1 year old', 6) }).instance.mean1).not.toBe(paired[0]!.mean1);
  });

  it('choice streams depend on (persona, game, trial) only', () => {
    expect(choiceStream(1, 'p', 2, 3).uniform()).toBe(choiceStream(1, 'p', 2, 3).uniform());
    expect(choiceStream(1, 'p', 2, 3).uniform()).not.toBe(choiceStream(1, 'p', 2, 4).uniform());
  });
});

describe('choice helpers', () => {
  it('samples from softmax(z / T)', () => {
    const p = 1 / (1 + Math.exp(-1)); // lp1 − lp2 = 1 at T = 1
    expect(probMachine1(-1, -2, 1)).toBeCloseTo(p, 15);
    expect(chooseFromLogprobs(-1, -2, 1, p - 1e-9)).toBe(0);
    expect(chooseFromLogprobs(-1, -2, 1, p + 1e-9)).toBe(1);
    expect(probMachine1(-1, -2, 0.5)).toBeCloseTo(1 / (1 + Math.exp(-2)), 15);
    expect(probMachine1(0, -Infinity, 1)).toBe(1);
    expect(probMachine1(-Infinity, 0, 1)).toBe(0);
    expect(probMachine1(-1000, -2000, 1)).toBe(1);
    expect(chooseFromLogprobs(-3, -3, 0, 0.9)).toBe(0);
    expect(chooseFromLogprobs(-3, -2, 0, 0.1)).toBe(1);
    expect(() => chooseFromLogprobs(0, 0, -1, 0.5)).toThrow(RangeError);
    expect(() => chooseFromLogprobs(0, 0, 1, 1)).toThrow(RangeError);
  });

  it('matches the intended choice frequency', () => {
    const r = choiceStream(0, 'freq', 0, 0);
    let n1 = 0;
    for (let i = 0; i < 20_000; i++) if (chooseFromLogprobs(Math.log(0.3), Math.log(0.7), 1, r.uniform()) === 0) n1++;
    expect(Math.abs(n1 / 20_000 - 0.3)).toBeLessThan(0.015);
  });

  it('parses API answers exactly, without stripping', () => {
    expect(parseApiChoice('1')).toBe(0);
    expect(parseApiChoice('2')).toBe(1);
    for (const bad of [' 1', '1\n', 'Machine 1', '3', '', '1.']) expect(parseApiChoice(bad)).toBeNull();
    expect(MAX_API_TRIES).toBe(20);
  });
});

describe('persona metrics', () => {
  const game = (acts: Arm[], regrets: number[], mu1: number, mu2: number): GameOutcome => ({
    abandoned: false,
    ...gameMetrics(acts, regrets, mu1, mu2),
  });

  it('pred_avg ties go to 2 and the faithful acc_last is the share of games where machine 1 is better', () => {
    expect(gameMetrics([0, 0, 1, 1], [0, 0, 1, 1], 1, 0).predAvg).toBe(2);
    const outcomes: GameOutcome[] = [
      game([0, 0, 0], [0, 0, 0], 2, 1), // label 1, avg 1, last 1
      game([1, 1, 0], [1, 1, 0], 0, 1), // label 2, avg 2, last 1
      game([1, 1, 1], [3, 3, 3], 0, 3), // label 2, avg 2, last 2
      game([0, 0, 1], [0, 0, 2], 5, 3), // label 1, avg 1, last 2
      { abandoned: true },
    ];
    const f = personaMetrics(outcomes, 'faithful');
    expect(f).toMatchObject({ games: 4, abandoned: 1, accAvg: 1, accLast: 0.5 });
    expect(f.loss).toBeCloseTo((0 + Math.fround(2 / 3) + 3 + Math.fround(2 / 3)) / 4, 12);
    expect(f.lossCi95![0]).toBeLessThan(f.loss);
    expect(f.lossCi95![1]).toBeGreaterThan(f.loss);
    expect(personaMetrics(outcomes, 'intended').accLast).toBe(0.5);
    expect(personaMetrics([outcomes[0]!, outcomes[2]!], 'intended').accLast).toBe(1);
    expect(personaMetrics([outcomes[0]!, outcomes[2]!], 'faithful').accLast).toBe(0.5);
  });

  it('handles no completed game', () => {
    expect(personaMetrics([{ abandoned: true }], 'faithful')).toMatchObject({ games: 0, abandoned: 1, lossCi95: null });
  });

  it('reproduces the golden game as a one-game persona', () => {
    const m = personaMetrics([playTrace().outcome()], 'faithful');
    expect(m).toMatchObject({ games: 1, loss: trace.metrics.loss_mean_regret, accAvg: 1, accLast: 1, lossCi95: null });
  });
});
