/**
 * CLIP image preprocessing (backends/clip/preprocess.ts, image.ts) against the seed's: the golden vectors of
 * clip_preprocess.json for the scikit-image photos, and every pixel of transformers' CLIPImageProcessorPil output
 * (the fixture's pixels/*.f32) for the photos and the synthetic images (grey, RGBA, palette, upscale, thin strip).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../backends/capabilities.js';
import { cropBottom, decodeImageFile } from '../backends/clip/image.js';
import { parsePreprocessConfig, preprocessImage, readPreprocessConfig, resizedSize } from '../backends/clip/preprocess.js';
import { CLIP_IMAGES, TINY_CLIP, clipReference, tinyClipOrFail } from './support/clipFixtures.js';
import { golden } from './support/golden.js';

interface GoldenCase {
  name: string;
  size: [number, number];
  resized: [number, number];
  crop_left_top: [number, number];
  sum: number;
  mean_per_channel: number[];
  probes: Record<string, number>;
}
const GOLD = golden<{ mean: number[]; std: number[]; cases: GoldenCase[] }>('clip_preprocess.json');
/** CC0 / public domain; motorcycle_left.png has no licence and is not in the fixture. */
const PHOTOS = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'];
/** The checkpoint's preprocessor_config.json (openai/clip-vit-base-patch32), old flat form. */
const SEED_CONFIG = parsePreprocessConfig({
  crop_size: 224, do_center_crop: true, do_normalize: true, do_resize: true, image_mean: GOLD.mean, image_std: GOLD.std,
  resample: 3, size: 224,
});

describe('resize and crop geometry', () => {
  it.each(GOLD.cases)('$name: resized size as transformers computes it', (c) => {
    const r = resizedSize(c.size[0], c.size[1], SEED_CONFIG);
    expect([r.width, r.height]).toEqual(c.resized);
    expect([Math.floor((r.width - 224) / 2), Math.floor((r.height - 224) / 2)]).toEqual(c.crop_left_top);
  });
});

/**
 * The golden file's synthetic inputs, rebuilt from its probes (the file names them but not their formulas; 12 probes
 * and 3 channel means at 1e-5 pin them down): pixel (x, y) → RGB, 8-bit (mod 256); `L` is grey replicated to RGB.
 */
const SYNTHETIC: Record<string, (x: number, y: number) => [number, number, number]> = {
  synthetic_53x37_rgb_gradient: (x, y) => [5 * x, 7 * y, 3 * (x + y)],
  synthetic_229x301_L: (x, y) => [x + 3 * y, x + 3 * y, x + 3 * y],
  synthetic_1000x225_rgb: (x, y) => [x, y, 0],
};

function synthetic(name: string, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(SYNTHETIC[name]!(x, y).map((v) => v & 255), (y * width + x) * 3);
  return { width, height, data };
}

function compareGolden(c: GoldenCase, data: Float32Array): void {
  expect(data.length).toBe(3 * 224 * 224);
  const probe = Math.max(...Object.entries(c.probes).map(([i, v]) => Math.abs(data[Number(i)]! - v)));
  const means = [0, 1, 2].map((ch) => data.subarray(ch * 224 * 224, (ch + 1) * 224 * 224).reduce((a, b) => a + b, 0) / (224 * 224));
  const meanErr = Math.max(...means.map((m, ch) => Math.abs(m - c.mean_per_channel[ch]!)));
  const sum = data.reduce((a, b) => a + b, 0);
  console.log(`${c.name}: golden probes max |Δ| ${probe.toExponential(2)}, channel means max |Δ| ${meanErr.toExponential(2)}, sum Δ ${(sum - c.sum).toExponential(2)}`);
  // The golden reference itself is within 4.8e-7 of transformers (VISION.md §5).
  expect(probe).toBeLessThanOrEqual(1e-5);
  expect(meanErr).toBeLessThanOrEqual(1e-5);
}

describe('preprocessing equals the seed on the golden synthetic images', () => {
  it.each(GOLD.cases.filter((c) => c.name in SYNTHETIC))('$name', (c) => {
    compareGolden(c, preprocessImage(synthetic(c.name, c.size[0], c.size[1]), SEED_CONFIG).data);
  });
});

describe.runIf(tinyClipOrFail())('preprocessing equals the seed', () => {
  it.each(GOLD.cases.filter((c) => PHOTOS.includes(c.name)))('$name: golden probes, sum and channel means', async (c) => {
    const img = await decodeImageFile(path.join(CLIP_IMAGES, c.name));
    expect([img.width, img.height]).toEqual(c.size);
    compareGolden(c, preprocessImage(img, SEED_CONFIG).data);
  });

  it('every pixel equals transformers CLIPImageProcessorPil, for photos and synthetic images', async () => {
    const cfg = await readPreprocessConfig(TINY_CLIP);
    const lines: string[] = [];
    for (const { file } of clipReference().images) {
      const img = await decodeImageFile(path.join(CLIP_IMAGES, file));
      const { data } = preprocessImage(img, cfg);
      const buf = readFileSync(path.join(TINY_CLIP, 'pixels', `${file}.f32`));
      const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
      expect(ref.length).toBe(data.length);
      let max = 0;
      let differing = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(ref[i]! - data[i]!);
        if (d > max) max = d;
        if (d > 1e-6) differing++;
      }
      lines.push(`${file}: max |Δ| ${max.toExponential(2)} over ${ref.length} values (${differing} differ by > 1e-6)`);
      // Bit-exact here (the resize is Pillow's integer algorithm; sharp and Pillow share libjpeg-turbo's decoder).
      expect(max, file).toBeLessThanOrEqual(1e-6);
    }
    console.log(lines.join('\n'));
  });
});

describe('per-data-set crop', () => {
  it("cropBottom keeps the top rows, as PIL's crop((0, 0, w, h - px))", () => {
    const img = synthetic('synthetic_1000x225_rgb', 7, 5); // pixel (x, y) = [x, y, 0]
    const cut = cropBottom(img, 2);
    expect([cut.width, cut.height]).toEqual([7, 3]);
    expect(Array.from(cut.data.subarray(-3))).toEqual([6, 2, 0]);
    expect(() => cropBottom(img, 5)).toThrow(/cannot crop 5 rows from the bottom of a 7×5 image/);
  });
});
