import { describe, expect, it } from 'vitest';
import { categoricalFromUniform, fnv1a64, Rng, splitmix64, streamFor, streamKeyText } from '../tasks/bandit/rng.js';

describe('building blocks match published vectors', () => {
  it('FNV-1a 64', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });

  it('SplitMix64 from seed 1234567', () => {
    let s = 1234567n;
    const out: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const [o, next] = splitmix64(s);
      out.push(o);
      s = next;
    }
    expect(out).toEqual([6457827717110365317n, 3203168211198807973n, 9817491932198370423n]);
  });

  it('xoshiro128** from state [1, 2, 3, 4]', () => {
    const r = Rng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('streamFor is stable (values from an independent Python implementation)', () => {
    expect(streamKeyText(2016, ['bandit-env', 3])).toBe('[2016,"bandit-env",3]');
    const r = streamFor(2016, 'bandit-env', 3);
    expect(Array.from({ length: 4 }, () => r.nextU32())).toEqual([2570890313, 857972340, 3425963844, 2200931235]);
  });
});

describe('streams', () => {
  it('are independent across keys and distinguish 1 from "1"', () => {
    const first = (r: Rng) => r.nextU32();
    expect(first(streamFor(1, 'a', 1))).not.toBe(first(streamFor(1, 'a', '1')));
    expect(first(streamFor(1, 'a', 1))).not.toBe(first(streamFor(1, 'a', 2)));
    expect(first(streamFor(1, 'a', 1))).not.toBe(first(streamFor(2, 'a', 1)));
    expect(() => streamFor(1, NaN)).toThrow(RangeError);
  });

  it('serialise and resume mid-way', () => {
    const r = streamFor(9, 'x');
    r.normal();
    const saved = JSON.parse(JSON.stringify(r.state()));
    const expected = [r.uniform(), r.normal(), r.categorical([1, 2, 3])];
    const resumed = Rng.fromState(saved);
    expect([resumed.uniform(), resumed.normal(), resumed.categorical([1, 2, 3])]).toEqual(expected);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow();
  });

  it('give uniform, normal and categorical draws with the right moments', () => {
    const r = streamFor(3, 'moments');
    const n = 100_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      su += u;
      const z = r.normal(2, 3);
      sn += z;
      sn2 += (z - 2) ** 2;
      counts[r.categorical([0.2, 0, 0.8])]!++;
    }
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sn / n - 2)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(sn2 / n) - 3)).toBeLessThan(0.03);
    expect(counts[1]).toBe(0);
    expect(Math.abs(counts[0]! / n - 0.2)).toBeLessThan(0.005);
  });

  it('categoricalFromUniform inverts the CDF and rejects bad weights', () => {
    expect(categoricalFromUniform([1, 1], 0.4999)).toBe(0);
    expect(categoricalFromUniform([1, 1], 0.5)).toBe(1);
    expect(categoricalFromUniform([1, 0], 0.9999999999)).toBe(0);
    expect(() => categoricalFromUniform([0, 0], 0.1)).toThrow(RangeError);
    expect(() => categoricalFromUniform([-1, 2], 0.1)).toThrow(RangeError);
  });
});
