/**
 * A scripted bandit player for the fake OpenAI server: it rebuilds each arm's Kalman belief from the history lists
 * in the prompt (the seed's update, on the rounded points the prompt shows) and answers with log-probs of "1"/"2"
 * such that P(machine 1) = Φ(βV·V + βRU·RU + βVTU·V/TU): a known probit policy the regression must recover.
 */
import type { Policy } from './fakeOpenAI.js';

export interface Beliefs {
  V: number;
  RU: number;
  VTU: number;
}

function arm(points: number[]): { mean: number; variance: number } {
  let mean = 0;
  let variance = 100;
  for (const r of points) {
    const lr = variance / (variance + 1);
    variance -= lr * variance;
    mean += lr * (r - mean);
  }
  return { mean, variance };
}

function list(prompt: string, machine: 1 | 2): number[] {
  const m = new RegExp(`- List of points received from machine ${machine}: \\[([^\\]]*)\\]`).exec(prompt);
  if (!m) return [];
  return m[1]!.trim() === '' ? [] : m[1]!.split(', ').map(Number);
}

export function beliefsFromPrompt(prompt: string): Beliefs {
  const a = arm(list(prompt, 1));
  const b = arm(list(prompt, 2));
  const V = a.mean - b.mean;
  const TU = Math.sqrt(a.variance + b.variance);
  return { V, RU: Math.sqrt(a.variance) - Math.sqrt(b.variance), VTU: V / TU };
}

/** log Φ(z); far in the lower tail erfc underflows, so use the asymptotic series there. */
function logPhi(z: number): number {
  if (z > -8) return Math.log(0.5 * erfc(-z / Math.SQRT2));
  const z2 = z * z;
  return -z2 / 2 - Math.log(-z) - 0.5 * Math.log(2 * Math.PI) + Math.log(1 - 1 / z2 + 3 / (z2 * z2));
}

/** Complementary error function (Numerical Recipes erfcc, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export function probitPolicy(beta: { V: number; RU: number; VTU: number }, opts: { garbageFor?: string } = {}): Policy {
  return (req) => {
    const prompt = String(req.messages.at(-1)?.content ?? '');
    if (prompt === 'ping') return { content: 'ok' };
    if (opts.garbageFor && prompt.includes(`If you were a ${opts.garbageFor},`)) return { content: 'Machine one, I think' };
    const b = beliefsFromPrompt(prompt);
    const z = beta.V * b.V + beta.RU * b.RU + beta.VTU * b.VTU;
    const lp1 = logPhi(z);
    const lp2 = logPhi(-z);
    return { content: lp1 >= lp2 ? '1' : '2', logprobs: { '1': lp1, '2': lp2, ' 1': lp1 - 5 } };
  };
}
