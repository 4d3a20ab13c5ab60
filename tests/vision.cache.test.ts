/** The vision caches shared across runs: what keys them, round trips, atomic writes. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageEmbeddingCache, LlmCallCache, type ImageCacheKey } from '../tasks/vision/cache.js';

const KEY: ImageCacheKey = { model: 'clip-a', dataset: 'aircraft', source: 'Multimodal-Fatima/FGVC_Aircraft_test', split: 'test', preprocess: 'v1', cropBottom: 20 };

describe('image-embedding cache', () => {
  it('one folder per model × data set × split × preprocessing (crop_bottom included)', () => {
    const root = mkdtempSync(join(tmpdir(), 'vcache-'));
    const dirs = new Set(
      [KEY, { ...KEY, model: 'clip-b' }, { ...KEY, split: 'train' }, { ...KEY, source: 'x' }, { ...KEY, preprocess: 'v2' }, { ...KEY, cropBottom: 0 }, { ...KEY, dataset: 'cars' }].map(
        (k) => new ImageEmbeddingCache(root, k).dir,
      ),
    );
    expect(dirs.size).toBe(7);
    expect(new ImageEmbeddingCache(root, { ...KEY }).dir).toBe(new ImageEmbeddingCache(root, KEY).dir);
  });

  it('round-trips float32 vectors by item id; writes leave no temporary file', () => {
    const root = mkdtempSync(join(tmpdir(), 'vcache-'));
    const c = new ImageEmbeddingCache(root, KEY);
    expect(c.get('a.jpg')).toBeUndefined();
    const v = Float32Array.from([0.25, -1.5, 3e-8]);
    c.put('a.jpg', v);
    c.put('a.jpg', v); // a second writer of the same entry
    expect(c.get('a.jpg')).toEqual(v);
    expect(c.has('b.jpg')).toBe(false);
    expect(readdirSync(c.dir).sort()).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.f32$/), 'key.json']);
  });
});

describe('LLM call cache', () => {
  it('keyed by the whole request (prompt, seed, sampling) and model', () => {
    const c = new LlmCallCache(mkdtempSync(join(tmpdir(), 'vcache-')));
    const key = { model: { backend: 'openai', model: 'm' }, format: 'plain', req: { prompt: { user: 'u', text: 'u' }, seed: 1, temperature: 0.7 } };
    c.put(key, 'out');
    expect(c.get(key)).toBe('out');
    expect(c.get({ ...key, req: { ...key.req, seed: 2 } })).toBeUndefined();
    expect(c.get({ ...key, model: { backend: 'openai', model: 'n' } })).toBeUndefined();
    expect(c.get({ req: key.req, format: 'plain', model: key.model })).toBe('out'); // key order does not matter
  });
});
