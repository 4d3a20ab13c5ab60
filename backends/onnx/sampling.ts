/**
 * Next-token choice as HF `generate` does it: greedy, or temperature -> top-k -> top-p -> multinomial.
 * transformers.js has no working top-p warper, so the warpers are here; its MT19937 `Random` is the seeded RNG.
 */
import { argmax } from '../../scoring/options.js';

// Greedy decoding and option scoring break ties the same way (lowest index, as torch.argmax).
export { argmax };

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** 0 = no top-k filtering. */
  topK: number;
  /** 1 = no nucleus filtering. */
  topP: number;
}

/** Picks the next token; `random` returns uniform numbers in [0, 1). */
export function pickToken(logits: Float32Array, p: SamplingParams, random: () => number): number {
  if (p.temperature <= 0) return argmax(logits);
  const candidates = topKIndices(logits, p.topK).sort((a, b) => logits[b]! - logits[a]!);
  // Softmax over the survivors of top-k (HF masks the rest with -inf), at the given temperature.
  const max = logits[candidates[0]!]!;
  const probs = candidates.map((i) => Math.exp((logits[i]! - max) / p.temperature));
  const total = probs.reduce((a, b) => a + b, 0);
  // Top-p: keep a token while the probability mass strictly above it is < top_p (HF's rule, seen from the top).
  let kept = 0;
  let mass = 0;
  while (kept < candidates.length && (kept === 0 || mass < p.topP * total)) mass += probs[kept++]!;
  let r = random() * mass;
  for (let k = 0; k < kept; k++) {
    r -= probs[k]!;
    if (r < 0) return candidates[k]!;
  }
  return candidates[kept - 1]!;
}

/** Indices whose logit is >= the k-th largest (ties kept, like HF's `scores < topk(...)[-1]` test). */
function topKIndices(logits: Float32Array, k: number): number[] {
  if (k <= 0 || k >= logits.length) return Array.from(logits.keys());
  // A sorted buffer of the k largest values: one pass, cheap for the small k used in practice (HF default 50).
  const top = new Float32Array(k).fill(-Infinity);
  for (const x of logits) {
    if (x <= top[k - 1]!) continue;
    let j = k - 1;
    while (j > 0 && top[j - 1]! < x) {
      top[j] = top[j - 1]!;
      j--;
    }
    top[j] = x;
  }
  const threshold = top[k - 1]!;
  const out: number[] = [];
  logits.forEach((x, i) => x >= threshold && out.push(i));
  return out;
}
