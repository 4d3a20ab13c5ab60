/** A backend that answers at once (no model, no network): what is left to measure is the engine itself. */
import { createHash } from 'node:crypto';
import type { Backend, GenerateRequest, GenerateResult, OptionScore, OptionScoreRequest, Outcome } from '../backends/types.js';

export class InstantBackend implements Backend {
  readonly id = 'instant';
  async scoreOptions(requests: OptionScoreRequest[]): Promise<Outcome<OptionScore>[]> {
    return requests.map((r) => {
      // Deterministic, prompt-dependent log-probs, so results are real data and the two runs can be compared.
      const h = createHash('sha1').update(r.prompt.text).digest();
      return { ok: true, value: { logprobs: r.options.map((_, i) => -((h[i] as number) / 64)), method: 'logits', absent: [] } };
    });
  }
  async generate(requests: GenerateRequest[]): Promise<Outcome<GenerateResult>[]> {
    return requests.map(() => ({ ok: true, value: { text: 'A' } }));
  }
}
