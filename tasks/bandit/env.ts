/**
 * The seed's `Sams2armedbandit` (SPEC §3 "Environment"): two Gaussian arms, pre-sampled rewards and a Kalman
 * filter belief per arm, logging the Gershman (2018) regressors before each update.
 */
import type { Rng } from './rng.js';
import { npRound1 } from './format.js';

export const NUM_TRIALS = 10;
export const MEAN_VAR = 100;
export const REWARD_VAR = 1;
export const PRIOR_EXP_REW = 0;
export const PRIOR_EXP_VAR = 100;

/** 0 = machine 1, 1 = machine 2 (the seed's action index). */
export type Arm = 0 | 1;

/** One sampled bandit: float32 means, float64 per-trial rewards (`R1s[t]` is paid if machine 1 is chosen at t). */
export interface BanditInstance {
  mean1: number;
  mean2: number;
  R1s: readonly number[];
  R2s: readonly number[];
}

/** Draw order: mean1, mean2, R1s[0..n), R2s[0..n). */
export function sampleInstance(rng: Rng, numTrials = NUM_TRIALS): BanditInstance {
  const mean1 = Math.fround(rng.normal(0, Math.sqrt(MEAN_VAR)));
  const mean2 = Math.fround(rng.normal(0, Math.sqrt(MEAN_VAR)));
  const R1s = Array.from({ length: numTrials }, () => rng.normal(mean1, Math.sqrt(REWARD_VAR)));
  const R2s = Array.from({ length: numTrials }, () => rng.normal(mean2, Math.sqrt(REWARD_VAR)));
  return { mean1, mean2, R1s, R2s };
}

/** What `step` logs; V, RU, TU and VTU are the beliefs *before* the update. */
export interface StepLog {
  trial: number;
  action: Arm;
  action1: boolean;
  V: number;
  RU: number;
  TU: number;
  VTU: number;
  reward: number;
  /** Expected regret max(mu1, mu2) − mu_a, a float32 value. */
  regret: number;
}

export class BanditEnv {
  readonly mean1: number;
  readonly mean2: number;
  readonly expRew: [number, number] = [PRIOR_EXP_REW, PRIOR_EXP_REW];
  readonly expVar: [number, number] = [PRIOR_EXP_VAR, PRIOR_EXP_VAR];
  /** `numpy.round(reward, 1)` of each reward, per machine, as the prompt shows them. */
  readonly history: [number[], number[]] = [[], []];
  private t = 0;

  constructor(readonly instance: BanditInstance) {
    if (instance.R1s.length !== instance.R2s.length) throw new RangeError('R1s and R2s must have the same length');
    // The seed's means are float32 tensors; coerce so explicit instances behave the same.
    this.mean1 = Math.fround(instance.mean1);
    this.mean2 = Math.fround(instance.mean2);
  }

  get numTrials(): number {
    return this.instance.R1s.length;
  }

  get trial(): number {
    return this.t;
  }

  get done(): boolean {
    return this.t >= this.numTrials;
  }

  step(action: Arm): StepLog {
    if (this.done) throw new Error('bandit episode is over');
    if (action !== 0 && action !== 1) throw new RangeError(`action must be 0 or 1, got ${String(action)}`);
    const [r1, r2] = this.expRew;
    const [v1, v2] = this.expVar;
    const V = r1 - r2;
    const RU = Math.sqrt(v1) - Math.sqrt(v2);
    const TU = Math.sqrt(v1 + v2);
    const reward = (action === 0 ? this.instance.R1s : this.instance.R2s)[this.t]!;
    const mu = action === 0 ? this.mean1 : this.mean2;
    // float32 tensor subtraction: the float64 difference of two float32s rounded once to float32 is the same
    // as the float32 operation (double has more than 2·24+2 bits, so double rounding is harmless).
    const regret = Math.fround(Math.max(this.mean1, this.mean2) - mu);
    // Kalman update of the chosen arm, in the seed's operation order (var −= lr·var, not var·(1 − lr)).
    const lr = this.expVar[action] / (this.expVar[action] + REWARD_VAR);
    this.expVar[action] -= lr * this.expVar[action];
    this.expRew[action] += lr * (reward - this.expRew[action]);
    this.history[action].push(npRound1(reward));
    const log: StepLog = { trial: this.t, action, action1: action === 0, V, RU, TU, VTU: V / TU, reward, regret };
    this.t++;
    return log;
  }
}
