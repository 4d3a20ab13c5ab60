/** Reading a prediction off option log-probs or off a generated answer (SPEC §2 local and API paths). */

/** softmax over the options; the argmax takes the lowest index on ties (torch.argmax). */
export function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[best] as number)) best = i;
  return best;
}

/** The seed accepts an API answer only if it is exactly one option: case-sensitive, no strip. */
export function exactOption(text: string, options: readonly string[]): number | null {
  const i = options.indexOf(text);
  return i < 0 ? null : i;
}
