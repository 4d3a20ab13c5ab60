/** What the CLIP backend tells a user who gives it a bad folder, model file or image (the file and the fix). */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipBackend } from '../backends/clip/backend.js';
import { decodeImageFile, ImageFileError } from '../backends/clip/image.js';
import { ClipModel } from '../backends/clip/options.js';
import { CLIP_IMAGES, TINY_CLIP, tinyClipOrFail } from './support/clipFixtures.js';
import { TMP, copyFixture } from './support/localFixtures.js';

const ROOT_FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const FOLDER = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];
const scratch = path.join(TMP, `clip-errors-${process.pid}`);

describe('CLIP model options', () => {
  it('has its defaults written once, in the schema', () => {
    expect(ClipModel.parse({ backend: 'clip', path: 'Xenova/clip-vit-base-patch32' })).toEqual({
      backend: 'clip', path: 'Xenova/clip-vit-base-patch32', variant: 'fp32', providers: ['cpu'], text_batch: 64,
      image_batch: 16, thread: true,
    });
    expect(() => ClipModel.parse({ backend: 'clip', path: 'x', batch: 3 })).toThrow(/batch/);
  });
});

describe('CLIP folder errors', () => {
  it('a missing folder: says so and what to set', async () => {
    await expect(ClipBackend.load({ path: './no/such/clip' })).rejects.toThrow(/CLIP model folder .*no\/such\/clip does not exist.*Xenova\/clip-vit-base-patch32/);
  });

  it('a hub id offline: not cached, not downloadable, copy the folder', async () => {
    const old = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
    try {
      await expect(ClipBackend.load({ path: 'Xenova/clip-vit-base-patch32' }, { cacheDir: path.join(scratch, 'cache') })).rejects.toThrow(
        /"Xenova\/clip-vit-base-patch32" is not in the local cache .* could not be downloaded .*Without internet access, copy the model folder/,
      );
    } finally {
      if (old === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = old;
    }
  });
});

describe.runIf(tinyClipOrFail())('CLIP model and image errors', () => {
  let clip: ClipBackend;
  beforeAll(async () => {
    mkdirSync(scratch, { recursive: true });
    clip = await ClipBackend.load({ path: TINY_CLIP, thread: false });
  });
  afterAll(() => clip?.close());

  it('missing onnx files: each is named, with the variants that are there', async () => {
    const dir = copyFixture('clip-no-vision', [...FOLDER, 'onnx/text_model.onnx'], TINY_CLIP);
    await expect(ClipBackend.load({ path: dir })).rejects.toThrow(/is missing onnx\/vision_model\.onnx \(variant "fp32"; onnx\/ has text_model\.onnx\)/);
    const full = copyFixture('clip-fp16', [...FOLDER, 'onnx/text_model.onnx', 'onnx/vision_model.onnx'], TINY_CLIP);
    await expect(ClipBackend.load({ path: full, variant: 'fp16' })).rejects.toThrow(/missing onnx\/text_model_fp16\.onnx, onnx\/vision_model_fp16\.onnx .*choose variant "fp32"/);
  });

  it('a missing preprocessor_config.json is named', async () => {
    const dir = copyFixture('clip-no-pre', ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx'], TINY_CLIP);
    await expect(ClipBackend.load({ path: dir })).rejects.toThrow(/is missing preprocessor_config\.json/);
  });

  it('a corrupt onnx file: onnxruntime cannot load it, named', async () => {
    const dir = copyFixture('clip-corrupt', [...FOLDER, 'onnx/text_model.onnx', 'onnx/vision_model.onnx'], TINY_CLIP);
    writeFileSync(path.join(dir, 'onnx/vision_model.onnx'), 'not a model');
    await expect(ClipBackend.load({ path: dir })).rejects.toThrow(/onnxruntime cannot load .*onnx\/vision_model\.onnx/);
  });

  it('swapped onnx files: not a CLIP vision model with projection', async () => {
    const dir = copyFixture('clip-swapped', [...FOLDER, 'onnx/text_model.onnx'], TINY_CLIP);
    copyFileSync(path.join(dir, 'onnx/text_model.onnx'), path.join(dir, 'onnx/vision_model.onnx'));
    await expect(ClipBackend.load({ path: dir })).rejects.toThrow(/vision_model\.onnx is not a CLIP vision model with projection: it takes input_ids/);
  });

  it('float16 IO (some fp16 exports): named, with the variants that work', async () => {
    const dir = copyFixture('clip-fp16-io', [...FOLDER, 'onnx/text_model.onnx'], TINY_CLIP);
    copyFileSync(path.join(ROOT_FIXTURES, 'clip-fp16-io/vision_model.onnx'), path.join(dir, 'onnx/vision_model.onnx'));
    await expect(ClipBackend.load({ path: dir, thread: false })).rejects.toThrow(
      /vision_model\.onnx takes pixel_values as float16 and gives image_embeds as float16; .*Choose a variant with float32 IO \(fp32 or int8\)/,
    );
  });

  it('an image file that does not exist, or is corrupt, is named', async () => {
    const missing = path.join(scratch, 'nope.jpg');
    await expect(decodeImageFile(missing)).rejects.toThrow(`Cannot read image ${missing} (ENOENT)`);
    const corrupt = path.join(scratch, 'corrupt.png');
    writeFileSync(corrupt, 'this is not a png');
    const err = await clip.embedImageFiles([path.join(CLIP_IMAGES, 'chelsea.png'), corrupt]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFileError);
    expect((err as ImageFileError).file).toBe(corrupt);
    expect((err as ImageFileError).kind).toBe('fatal'); // non-retryable: retrying does not fix a file
    expect((err as Error).message).toMatch(/corrupt\.png is not a readable image/);
    // A truncated JPEG: the header reads, the pixels do not.
    const jpeg = readFileSync(path.join(CLIP_IMAGES, 'rocket.jpg'));
    const cut = path.join(scratch, 'cut.jpg');
    writeFileSync(cut, jpeg.subarray(0, 2000));
    await expect(decodeImageFile(cut)).rejects.toThrow(/cut\.jpg cannot be decoded to RGB/);
  });

  it('an image that is not RGB-convertible (a 6-band TIFF) is named', async () => {
    const file = path.join(scratch, 'six-bands.tif');
    writeFileSync(file, multibandTiff(6));
    const err = await decodeImageFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFileError);
    expect((err as Error).message).toMatch(/six-bands\.tif cannot be converted to RGB \(.*channel.*\): save it as an RGB or greyscale/);
  });

  it('an RgbImage with the wrong number of bytes is refused with its index', async () => {
    const ok = await decodeImageFile(path.join(CLIP_IMAGES, 'astronaut.png'));
    const rgba = { width: 4, height: 4, data: new Uint8Array(64) };
    await expect(clip.embedImages([ok, rgba])).rejects.toThrow(/image 1: not an RGB image: 4×4 needs 48 bytes \(3 per pixel\), got 64/);
    // In the worker thread, one image a batch: still the index in the caller's list, and a fatal error.
    const threaded = await ClipBackend.load({ path: TINY_CLIP, image_batch: 1 });
    try {
      const err = await threaded.embedImages([ok, ok, rgba]).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/^image 2: not an RGB image/);
      expect((err as { kind?: string }).kind).toBe('fatal');
      expect(ok.data.length).toBe(ok.width * ok.height * 3); // copied to the thread, not transferred away
    } finally {
      await threaded.close();
    }
  });
});

/** A 2×2 uncompressed TIFF with `bands` 8-bit samples per pixel (grey plus extra samples): a multispectral image. */
function multibandTiff(bands: number): Buffer {
  const pixels = Buffer.alloc(4 * bands, 100);
  const bpsOff = 8 + pixels.length;
  const bps = Buffer.alloc(2 * bands);
  for (let i = 0; i < bands; i++) bps.writeUInt16LE(8, 2 * i);
  const extraOff = bpsOff + bps.length;
  const extra = Buffer.alloc(2 * (bands - 1));
  const ifdOff = extraOff + extra.length;
  // [tag, type (3 SHORT, 4 LONG), count, value or offset]
  const tags = [[256, 3, 1, 2], [257, 3, 1, 2], [258, 3, bands, bpsOff], [259, 3, 1, 1], [262, 3, 1, 1], [273, 4, 1, 8],
    [277, 3, 1, bands], [278, 3, 1, 2], [279, 4, 1, pixels.length], [284, 3, 1, 1], [338, 3, bands - 1, extraOff]];
  const ifd = Buffer.alloc(2 + 12 * tags.length + 4);
  ifd.writeUInt16LE(tags.length, 0);
  tags.forEach(([tag, type, count, value], i) => {
    ifd.writeUInt16LE(tag!, 2 + 12 * i);
    ifd.writeUInt16LE(type!, 4 + 12 * i);
    ifd.writeUInt32LE(count!, 6 + 12 * i);
    if (type === 3 && count === 1) ifd.writeUInt16LE(value!, 10 + 12 * i);
    else ifd.writeUInt32LE(value!, 10 + 12 * i);
  });
  const head = Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(ifdOff, 4);
  return Buffer.concat([head, pixels, bps, extra, ifd]);
}
