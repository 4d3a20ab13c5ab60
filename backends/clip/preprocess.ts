/**
 * CLIP image preprocessing as the seed runs it: transformers 4.x CLIPImageProcessor, PIL path (VISION.md §5). RGB in;
 * PIL BICUBIC resize of the shortest edge (long edge int(size·long/short)); center crop at floor offsets; ×1/255;
 * (x − mean)/std; CHW float32. Settings come from the model folder's preprocessor_config.json.
 *
 * The resize is Pillow's ImagingResample for 8-bit images (src/libImaging/Resample.c), reproduced to the integer:
 * separable, horizontal pass first into an 8-bit intermediate, then vertical; bicubic kernel with a = −0.5 whose
 * support (2) is scaled by the downscale factor; weights normalised per output pixel, then converted to fixed point
 * with PRECISION_BITS = 22 and rounded half away from zero; sums start at 1 << 21 and are clipped to 0..255.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RgbImage } from '../capabilities.js';
import { ModelFolderError } from '../onnx/folder.js';

export interface PreprocessConfig {
  /** Resize target: the shortest edge, or an exact size. */
  resize?: { shortestEdge: number } | { height: number; width: number };
  crop?: { height: number; width: number };
  rescale?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
}

/** PIL's resample codes; only bicubic is what CLIP checkpoints use and what is reproduced exactly. */
const PIL_BICUBIC = 3;

type Json = Record<string, unknown>;

/** The folder's preprocessor_config.json (both the old `size: 224` and the newer `{shortest_edge}` forms). */
export async function readPreprocessConfig(dir: string): Promise<PreprocessConfig> {
  const file = path.join(dir, 'preprocessor_config.json');
  let c: Json;
  try {
    c = JSON.parse(await readFile(file, 'utf8')) as Json;
  } catch (e) {
    throw new ModelFolderError(`Cannot read ${file}: ${(e as Error).message}. Copy it from the model's hub repository.`);
  }
  return parsePreprocessConfig(c, file);
}

export function parsePreprocessConfig(c: Json, file = 'preprocessor_config.json'): PreprocessConfig {
  const bad = (what: string) => new ModelFolderError(`${file}: ${what} is not supported by the CLIP preprocessing here.`);
  if (c.do_convert_rgb === false) throw bad('do_convert_rgb: false');
  const resample = c.resample ?? PIL_BICUBIC;
  const cfg: PreprocessConfig = {};
  if (c.do_resize !== false) {
    if (resample !== PIL_BICUBIC) throw bad(`resample ${JSON.stringify(resample)} (only 3, PIL BICUBIC)`);
    const size = c.size as number | Json | undefined;
    if (typeof size === 'number') cfg.resize = { shortestEdge: size };
    else if (typeof size?.shortest_edge === 'number') cfg.resize = { shortestEdge: size.shortest_edge };
    else if (typeof size?.height === 'number' && typeof size.width === 'number') cfg.resize = { height: size.height, width: size.width };
    else throw bad(`size ${JSON.stringify(size)}`);
  }
  if (c.do_center_crop !== false) {
    const crop = (c.crop_size ?? c.size) as number | Json | undefined;
    if (typeof crop === 'number') cfg.crop = { height: crop, width: crop };
    else if (typeof crop?.height === 'number' && typeof crop.width === 'number') cfg.crop = { height: crop.height, width: crop.width };
    else throw bad(`crop_size ${JSON.stringify(crop)}`);
  }
  if (c.do_rescale !== false) cfg.rescale = typeof c.rescale_factor === 'number' ? c.rescale_factor : 1 / 255;
  if (c.do_normalize !== false) {
    cfg.mean = triple(c.image_mean) ?? [0.48145466, 0.4578275, 0.40821073];
    cfg.std = triple(c.image_std) ?? [0.26862954, 0.26130258, 0.27577711];
  }
  return cfg;
}

function triple(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? (v as [number, number, number]) : undefined;
}

/** Names everything that changes the pixels: part of the image-embedding cache key. */
export function preprocessVersion(cfg: PreprocessConfig): string {
  return `pil-bicubic-v1:${JSON.stringify(cfg)}`;
}

/** The output size of the resize step (transformers' get_resize_output_image_size, default_to_square=False). */
export function resizedSize(width: number, height: number, cfg: PreprocessConfig): { width: number; height: number } {
  const r = cfg.resize;
  if (!r) return { width, height };
  if ('height' in r) return { width: r.width, height: r.height };
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((r.shortestEdge * long) / short);
  return width <= height ? { width: r.shortestEdge, height: newLong } : { width: newLong, height: r.shortestEdge };
}

/** The pixel values of one image: Float32Array of [3, H, W] (H × W the crop size, or the resized size). */
export function preprocessImage(img: RgbImage, cfg: PreprocessConfig): { data: Float32Array; width: number; height: number } {
  checkRgb(img);
  const size = resizedSize(img.width, img.height, cfg);
  const resized = resizeBicubic(img, size.width, size.height);
  const ch = cfg.crop?.height ?? size.height;
  const cw = cfg.crop?.width ?? size.width;
  if (ch > size.height || cw > size.width) {
    throw new Error(`center crop ${cw}×${ch} is larger than the resized image ${size.width}×${size.height}`);
  }
  const top = Math.floor((size.height - ch) / 2);
  const left = Math.floor((size.width - cw) / 2);
  // Float32 steps as numpy does them: (x·scale computed in float64, stored float32) − mean, / std, in float32.
  const scale = cfg.rescale ?? 1;
  const mean = (cfg.mean ?? [0, 0, 0]).map(Math.fround);
  const std = (cfg.std ?? [1, 1, 1]).map(Math.fround);
  const out = new Float32Array(3 * ch * cw);
  const plane = ch * cw;
  for (let y = 0; y < ch; y++) {
    const row = (top + y) * size.width;
    for (let x = 0; x < cw; x++) {
      const src = (row + left + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = Math.fround(resized.data[src + c]! * scale);
        out[c * plane + y * cw + x] = Math.fround(Math.fround(v - mean[c]!) / std[c]!);
      }
    }
  }
  return { data: out, width: cw, height: ch };
}

export function checkRgb(img: RgbImage): void {
  const ok = Number.isInteger(img.width) && Number.isInteger(img.height) && img.width > 0 && img.height > 0;
  if (!ok || img.data.length !== img.width * img.height * 3) {
    throw new Error(
      `not an RGB image: ${img.width}×${img.height} needs ${img.width * img.height * 3} bytes (3 per pixel), got ` +
        `${img.data.length}; decode files with decodeImage, which converts to RGB`,
    );
  }
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  /** Per output pixel: first input index and count. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  kk: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole input range. */
function coeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  const s = Math.floor(v / ONE);
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

/** Pillow `Image.resize((width, height), Image.BICUBIC)` of an RGB image, bit-exact. */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  let cur = img;
  if (width !== cur.width) {
    const { ksize, bounds, kk } = coeffs(cur.width, width);
    const out = new Uint8Array(width * cur.height * 3);
    for (let y = 0; y < cur.height; y++) {
      const row = y * cur.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2]!;
        const n = bounds[xx * 2 + 1]!;
        let s0 = HALF, s1 = HALF, s2 = HALF;
        for (let x = 0; x < n; x++) {
          const w = kk[xx * ksize + x]!;
          const p = row + (xmin + x) * 3;
          s0 += cur.data[p]! * w;
          s1 += cur.data[p + 1]! * w;
          s2 += cur.data[p + 2]! * w;
        }
        const o = (y * width + xx) * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      }
    }
    cur = { width, height: cur.height, data: out };
  }
  if (height !== cur.height) {
    const { ksize, bounds, kk } = coeffs(cur.height, height);
    const out = new Uint8Array(width * height * 3);
    const stride = width * 3;
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[yy * 2]!;
      const n = bounds[yy * 2 + 1]!;
      for (let i = 0; i < stride; i++) {
        let s = HALF;
        for (let y = 0; y < n; y++) s += cur.data[(ymin + y) * stride + i]! * kk[yy * ksize + y]!;
        out[yy * stride + i] = clip8(s);
      }
    }
    cur = { width, height, data: out };
  }
  return cur === img ? { width, height, data: img.data.slice() } : cur;
}
