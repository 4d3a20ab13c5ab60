import { describe, expect, it } from 'vitest';
import { cellId, cellSeed, cleanPurpose, replicateIndices, type CellKey } from '../tasks/vision/seeds.js';

const base: CellKey = { runSeed: 2016, persona: 'man', className: 'Black footed Albatross', purpose: 'describe', replicate: 0 };

describe('vision per-cell seeds', () => {
  it('are deterministic, 31-bit, and pinned (a change of the hash would silently change every sample)', () => {
    const s = cellSeed(base);
    expect(cellSeed({ ...base })).toBe(s);
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    // FNV-1a 64 of '[2016,"vision","man","Black footed Albatross","describe",0]' >> 33, computed in Python.
    expect(s).toBe(856148665);
  });
  it('differ in every key component', () => {
    const variants: CellKey[] = [
      { ...base, runSeed: 2017 },
      { ...base, persona: 'woman' },
      { ...base, className: 'Laysan Albatross' },
      { ...base, purpose: cleanPurpose(0) },
      { ...base, purpose: cleanPurpose(1) },
      { ...base, replicate: 1 },
    ];
    const seeds = new Set([base, ...variants].map(cellSeed));
    expect(seeds.size).toBe(variants.length + 1);
  });
  it('ids and bad keys', () => {
    expect(cellId({ ...base, purpose: cleanPurpose(2) })).toBe('clean#2/man/Black footed Albatross/r0');
    expect(() => cellSeed({ ...base, replicate: -1 })).toThrow(/replicate/);
    expect(() => cellSeed({ ...base, purpose: 'clean#x' as never })).toThrow(/purpose/);
    expect(() => cleanPurpose(1.5)).toThrow(/sentence index/);
    expect(replicateIndices(3)).toEqual([0, 1, 2]);
    expect(() => replicateIndices(0)).toThrow(/positive/);
  });
});
