import { describe, expect, it } from 'vitest';
import { npRound1, pyFloatListRepr, pyFloatRepr, rint } from '../tasks/bandit/format.js';
import { golden } from './support/golden.js';

interface Case { raw_float64: number; np_round_1: number; printed_in_list: string }
const cases = golden('bandit.json').history_number_formatting.cases as Case[];

describe('history number formatting (golden history_number_formatting)', () => {
  it.each(cases)('$raw_float64 → $printed_in_list', (c) => {
    const r = npRound1(c.raw_float64);
    expect(Object.is(r, c.np_round_1) || r === c.np_round_1).toBe(true);
    expect(pyFloatListRepr([r])).toBe(c.printed_in_list);
  });

  it('keeps the sign of negative zero, which JSON drops', () => {
    expect(Object.is(npRound1(-0.0412), -0)).toBe(true);
    expect(pyFloatRepr(npRound1(-0.0412))).toBe('-0.0');
    expect(pyFloatRepr(npRound1(0.04))).toBe('0.0');
  });
});

describe('rint / npRound1', () => {
  it('rounds half to even in float64 after x*10', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -3.5].map(rint)).toEqual([0, 2, 2, -0, -2, -2, -4]);
    expect(npRound1(13.05)).toBe(13.0);
    expect(npRound1(2.45)).toBe(2.4);
    expect(npRound1(0.25)).toBe(0.2);
    expect(npRound1(0.35)).toBe(0.4); // 0.35*10 rounds to exactly 3.5 in float64, then to even
    expect(npRound1(1.05)).toBe(1.0); // 1.05*10 = 10.5 exactly in float64
    expect(npRound1(0.15)).toBe(0.2); // the double nearest 0.15 lies below it (decimal rounding gives 0.1), but 0.15*10 rounds to exactly 1.5 → 2
  });
});

describe('pyFloatRepr (Python 3 repr)', () => {
  it.each([
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [9999999999999998, '9999999999999998.0'],
    [1e-5, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [0.00012, '0.00012'],
    [123.456, '123.456'],
    [-2.5, '-2.5'],
    [100, '100.0'],
    [1e22, '1e+22'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-1e-7, '-1e-07'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
  ])('%s → %s', (x, s) => expect(pyFloatRepr(x)).toBe(s));

  it('prints lists like str(list)', () => {
    expect(pyFloatListRepr([])).toBe('[]');
    expect(pyFloatListRepr([12.3, 10, -0])).toBe('[12.3, 10.0, -0.0]');
  });
});
