/**
 * The CLIP backend on the tiny random-weight CLIP (scripts/make-tiny-clip.py): ONNX-in-Node text and image embeddings
 * (our tokenizer, decoding, preprocessing, batching, normalisation) against PyTorch CLIPModel on the same weights
 * (transformers' tokenizer and CLIPImageProcessorPil), and the seed's truncation bug.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipBackend, closeSharedClipBackends, sharedClipBackend } from '../backends/clip/backend.js';
import { CLIP_IMAGES, TINY_CLIP, clipReference, tinyClipOrFail, type ClipReference } from './support/clipFixtures.js';

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.runIf(tinyClipOrFail())('tiny CLIP in onnxruntime-node vs PyTorch', () => {
  let ref: ClipReference;
  let clip: ClipBackend;
  let inProcess: ClipBackend;
  beforeAll(async () => {
    ref = clipReference();
    // Small batches so that the reference's texts and images span several passes.
    clip = await ClipBackend.load({ path: TINY_CLIP, text_batch: 4, image_batch: 4 });
    inProcess = await ClipBackend.load({ path: TINY_CLIP, thread: false });
  });
  afterAll(async () => {
    await clip?.close();
    await inProcess?.close();
  });

  it('names its preprocessing for the image-embedding cache key', () => {
    expect(clip.preprocessVersion).toMatch(/^pil-bicubic-v1:/);
    expect(clip.preprocessVersion).toContain('"shortestEdge":224');
    expect(clip.id).toBe('clip:tiny-clip:fp32');
  });

  it('text embeddings (seed and eos cuts) equal the reference to 1e-5', async () => {
    const texts = ref.texts.map((t) => t.text);
    const lines: string[] = [];
    for (const mode of ['seed', 'eos'] as const) {
      const got = await clip.embedTexts(texts, { truncation: mode });
      let worst = 0;
      got.forEach((e, i) => {
        expect(e.tokens).toBe(ref.texts[i]!.ids.length);
        expect(e.truncated).toBe(ref.texts[i]!.ids.length > 77);
        worst = Math.max(worst, maxAbs(e.vector, ref.texts[i]![mode]));
      });
      lines.push(`text embeddings, ${mode} cut: max |Δ| ${worst.toExponential(2)} over ${texts.length} texts`);
      expect(worst).toBeLessThanOrEqual(1e-5);
    }
    console.log(lines.join('\n'));
  });

  it('image embeddings (photos and synthetic images, from the files) equal the reference to 1e-5', async () => {
    const files = ref.images.map((i) => path.join(CLIP_IMAGES, i.file));
    const got = await clip.embedImageFiles(files);
    const errs = got.map((v, i) => maxAbs(v, ref.images[i]!.embedding));
    console.log(ref.images.map((im, i) => `${im.file}: image embedding max |Δ| ${errs[i]!.toExponential(2)}`).join('\n'));
    expect(Math.max(...errs)).toBeLessThanOrEqual(1e-5);
    // Unit norm, as CLIPModel normalises before the logits.
    for (const v of got) expect(Math.hypot(...v)).toBeCloseTo(1, 6);
  });

  it('the worker thread and the main thread give the same numbers, and batching changes none', async () => {
    const texts = ref.texts.map((t) => t.text);
    const a = await clip.embedTexts(texts, { truncation: 'seed' });
    const b = await inProcess.embedTexts(texts, { truncation: 'seed' });
    const single = await Promise.all(texts.map((t) => inProcess.embedTexts([t], { truncation: 'seed' })));
    a.forEach((e, i) => {
      expect(maxAbs(e.vector, b[i]!.vector)).toBeLessThanOrEqual(1e-6);
      expect(maxAbs(e.vector, single[i]![0]!.vector)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('seed cut: two different texts over 77 tokens get the [BOS] embedding; the eos cut tells them apart', async () => {
    const long = ref.texts.filter((t) => t.ids.length > 77).map((t) => t.text);
    expect(long).toHaveLength(2);
    expect(long[0]).not.toBe(long[1]);
    const [s1, s2] = await clip.embedTexts(long, { truncation: 'seed' });
    expect(maxAbs(s1!.vector, s2!.vector)).toBe(0);
    // [BOS] alone: what the seed's cut texts collapse to (VISION.md §4), from our pass and from PyTorch.
    expect(maxAbs(s1!.vector, ref.bos)).toBeLessThanOrEqual(1e-5);
    const [e1, e2] = await clip.embedTexts(long, { truncation: 'eos' });
    expect(maxAbs(e1!.vector, e2!.vector)).toBeGreaterThan(0.05);
    expect(maxAbs(e1!.vector, s1!.vector)).toBeGreaterThan(0.05);
    expect([s1!.truncated, e1!.truncated]).toEqual([true, true]);
    // The cut fraction a task reports per persona, without a pass.
    const tokens = clip.tokenize([...long, 'A photo of a cat'], 'seed');
    expect(tokens.map((t) => t.truncated)).toEqual([true, true, false]);
  });

  it('one shared backend per spec and process', async () => {
    const a = sharedClipBackend({ path: TINY_CLIP, thread: false });
    expect(sharedClipBackend({ path: TINY_CLIP, thread: false, image_batch: 16 })).toBe(a);
    expect(sharedClipBackend({ path: TINY_CLIP, thread: true })).not.toBe(a);
    await closeSharedClipBackends();
  });

  it('an empty batch is no pass', async () => {
    expect(await clip.embedTexts([], { truncation: 'seed' })).toEqual([]);
    expect(await clip.embedImages([])).toEqual([]);
  });
});
