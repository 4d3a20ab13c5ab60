/**
 * Seeded randomness for the bandit, independent of any global RNG (the seed shared torch's global RNG between
 * the environment and the LLM's action sampling, SPEC §6.6; we keep them apart so runs are reproducible and
 * resumable).
 *
 * Determinism contract: every stream is a pure function of `(runSeed, ...keys)`. The game code draws a bandit
 * instance from one stream up front and each trial's action from its own per-trial stream, so a game is fully
 * determined by its keys plus the actions taken so far; resuming after a crash needs no RNG state. For callers
 * that do keep a long-lived stream, `Rng.state()` / `Rng.fromState()` round-trip it as four uint32s.
 *
 * Generator: xoshiro128** 1.0 (Blackman & Vigna 2018), seeded through SplitMix64 as its authors recommend.
 * Keys are hashed with 64-bit FNV-1a over the UTF-8 of a canonical JSON encoding: 64 bits keep the chance of
 * two of ~10^5 (persona, game) streams colliding near 10^-10 (32 bits would make a collision likely).
 */

export type RngState = readonly [number, number, number, number];
export type StreamKey = string | number;

const M64 = (1n << 64n) - 1n;

/** 64-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of utf8(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & M64;
  return h;
}

function utf8(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** SplitMix64 (Steele, Lea & Flood 2014): returns [output, next state]. */
export function splitmix64(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & M64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return [z ^ (z >> 31n), next];
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  private constructor(
    private a: number,
    private b: number,
    private c: number,
    private d: number,
  ) {}

  static fromState(s: RngState): Rng {
    if (s.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) throw new RangeError('RNG state must be 4 uint32');
    // The all-zero state is xoshiro's one fixed point: it would emit zeros forever.
    if (s.every((x) => x === 0)) throw new RangeError('RNG state must not be all zero');
    return new Rng(s[0], s[1], s[2], s[3]);
  }

  /** Seed from a 64-bit integer, expanded by SplitMix64. */
  static fromSeed64(seed: bigint): Rng {
    const [x, s1] = splitmix64(seed & M64);
    const [y] = splitmix64(s1);
    const words: number[] = [x >> 32n, x & 0xffffffffn, y >> 32n, y & 0xffffffffn].map((w) => Number(w));
    if (!words.some((w) => w !== 0)) words[0] = 1; // unreachable in practice (SplitMix64 is a bijection)
    return new Rng(words[0]!, words[1]!, words[2]!, words[3]!);
  }

  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** Next raw uint32 (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c = (this.c ^ this.a) >>> 0;
    this.d = (this.d ^ this.b) >>> 0;
    this.b = (this.b ^ this.c) >>> 0;
    this.a = (this.a ^ this.d) >>> 0;
    this.c = (this.c ^ t) >>> 0;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Normal(mean, sd) by Box-Muller. The second variate of each pair is dropped on purpose, so the state stays
   * the four generator words (no cached spare to serialise). Math.log/cos are V8's fdlibm ports, so the values
   * are reproducible across platforms for a given Node version.
   */
  normal(mean = 0, sd = 1): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log(0) is avoided
    const u2 = this.uniform();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Index drawn with probability proportional to `weights` (non-negative, positive sum). */
  categorical(weights: readonly number[]): number {
    return categoricalFromUniform(weights, this.uniform());
  }
}

/** Inverse-CDF categorical draw for a given u in [0, 1): first index whose cumulative share exceeds u. */
export function categoricalFromUniform(weights: readonly number[], u: number): number {
  let total = 0;
  for (const w of weights) {
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`categorical weight must be finite and >= 0, got ${w}`);
    total += w;
  }
  if (!(total > 0)) throw new RangeError('categorical weights must have a positive sum');
  let acc = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i]! === 0) continue;
    acc += weights[i]!;
    last = i;
    if (u * total < acc) return i;
  }
  return last; // float rounding at u ≈ 1: fall back to the last index with positive weight
}

/** The canonical text that is hashed for a stream; JSON keeps `1` and `"1"` apart. */
export function streamKeyText(runSeed: StreamKey, keys: readonly StreamKey[]): string {
  for (const k of [runSeed, ...keys]) {
    if (typeof k === 'number' && !Number.isFinite(k)) throw new RangeError(`stream key must be finite, got ${k}`);
  }
  return JSON.stringify([runSeed, ...keys]);
}

/** An independent stream for `(runSeed, ...keys)`, e.g. `streamFor(2016, 'bandit-env', '7 year old', 12)`. */
export function streamFor(runSeed: StreamKey, ...keys: StreamKey[]): Rng {
  return Rng.fromSeed64(fnv1a64(streamKeyText(runSeed, keys)));
}
