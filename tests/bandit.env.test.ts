import { describe, expect, it } from 'vitest';
import { BanditEnv, sampleInstance, type Arm } from '../tasks/bandit/env.js';
import { pyFloatListRepr } from '../tasks/bandit/format.js';
import { streamFor } from '../tasks/bandit/rng.js';
import { golden } from './support/golden.js';

const trace = golden('bandit.json').env_trace;
const inp = trace.inputs;
const instance = { mean1: inp.mean1_float32, mean2: inp.mean2_float32, R1s: inp.R1s_float64, R2s: inp.R2s_float64 };

describe('BanditEnv reproduces golden env_trace', () => {
  const env = new BanditEnv(instance);
  const logs = (inp.actions_index0 as Arm[]).map((a) => ({ log: env.step(a), rew: [...env.expRew], vr: [...env.expVar], h: env.history.map((l) => pyFloatListRepr(l)) }));

  it.each((trace.per_trial as any[]).map((p, i) => ({ i, p })))('trial $i', ({ i, p }) => {
    const { log, rew, vr, h } = logs[i]!;
    expect(log.trial).toBe(p.trial);
    expect(log.action).toBe(p.action_index);
    expect(log.action1).toBe(p.action1);
    expect(log.V).toBe(p.V);
    expect(log.RU).toBe(p.RU);
    expect(log.TU).toBe(p.TU);
    expect(log.VTU).toBe(p['V/TU']);
    expect(log.reward).toBe(p.reward);
    expect(log.regret).toBe(p.regret_float32);
    expect(rew).toEqual(p.exp_rew_after);
    expect(vr).toEqual(p.exp_var_after);
    expect(h).toEqual([p.history_after.machine1, p.history_after.machine2]);
  });

  it('is over after the last trial', () => {
    expect(env.done).toBe(true);
    expect(() => env.step(0)).toThrow();
  });
});

describe('BanditEnv details', () => {
  it('computes regret as a float32 difference of float32 means', () => {
    const env = new BanditEnv({ mean1: 0.1, mean2: 0.3, R1s: [0], R2s: [0] });
    const m1 = Math.fround(0.1);
    const m2 = Math.fround(0.3);
    expect(env.step(0).regret).toBe(Math.fround(m2 - m1));
    expect(Math.fround(m2 - m1)).not.toBe(0.3 - 0.1);
  });

  it('samples float32 means and float64 rewards around them, deterministically per stream', () => {
    const a = sampleInstance(streamFor(7, 'env', 1));
    const b = sampleInstance(streamFor(7, 'env', 1));
    expect(a).toEqual(b);
    expect(Math.fround(a.mean1)).toBe(a.mean1);
    expect(a.R1s).toHaveLength(10);
    expect(a.R1s.some((r) => Math.fround(r) !== r)).toBe(true);
  });

  it('draws means with sd 10 and rewards with sd 1', () => {
    const rng = streamFor(1, 'env-moments');
    const means: number[] = [];
    const dev: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const inst = sampleInstance(rng);
      means.push(inst.mean1, inst.mean2);
      inst.R1s.forEach((r) => dev.push(r - inst.mean1));
    }
    const sd = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
    expect(sd(means)).toBeGreaterThan(9.6);
    expect(sd(means)).toBeLessThan(10.4);
    expect(sd(dev)).toBeGreaterThan(0.98);
    expect(sd(dev)).toBeLessThan(1.02);
  });
});
