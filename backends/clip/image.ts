/**
 * Image files to `RgbImage` with sharp (libvips; libjpeg-turbo and libpng as Pillow uses), converted like PIL's
 * `convert("RGB")` that the seed's loaders apply: grey is replicated, alpha is dropped (not composited), palettes are
 * expanded; embedded ICC profiles and EXIF orientation are ignored, as PIL ignores them.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbImage } from '../capabilities.js';
import { FatalBackendError } from '../types.js';

/**
 * An image file that cannot be used: unreadable, not an image, or not convertible to RGB. Names the file. Fatal:
 * retrying does not fix a file (activities map it to a non-retryable failure).
 */
export class ImageFileError extends FatalBackendError {
  constructor(readonly file: string, message: string) {
    super(message);
    this.name = 'ImageFileError';
  }
}

export async function decodeImageFile(file: string): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageFileError(file, `Cannot read image ${file} (${code ?? (e as Error).message}): check that the file exists and is readable.`);
  }
  return decodeImage(bytes, file);
}

/** `label` names the image in errors (a file name or data-set key). */
export async function decodeImage(bytes: Uint8Array, label: string): Promise<RgbImage> {
  const meta = await sharp(bytes)
    .metadata()
    .catch((e: Error) => {
      // libvips refuses images with more bands than any colour space has (multispectral TIFFs) while reading them.
      if (/channel limit/.test(e.message)) throw notRgb(label, e.message);
      throw new ImageFileError(label, `${label} is not a readable image (${e.message}): the file is corrupt or not an image format libvips decodes (JPEG, PNG, WebP, GIF, TIFF, AVIF).`);
    });
  const space = meta.space ?? 'srgb';
  if (!['srgb', 'rgb', 'b-w', 'grey16', 'rgb16', 'cmyk'].includes(space) || (meta.channels ?? 0) < 1 || (meta.channels ?? 0) > 5) {
    throw notRgb(label, `colour space ${space}, ${meta.channels} channels`);
  }
  try {
    const { data, info } = await sharp(bytes, { ignoreIcc: true, failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Error(`decoded to ${info.channels} channels`);
    }
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new ImageFileError(label, `${label} cannot be decoded to RGB (${(e as Error).message}): the file is truncated or corrupt.`);
  }
}

function notRgb(label: string, why: string): ImageFileError {
  return new ImageFileError(label, `${label} cannot be converted to RGB (${why}): save it as an RGB or greyscale JPEG/PNG.`);
}

/**
 * `img` without its bottom `px` rows: FGVC-Aircraft's per-data-set step before CLIP's preprocessing (the seed crops
 * the banner away with PIL's `crop((0, 0, w, h − 20))`). Row-major, so the rows kept are a prefix of the bytes.
 */
export function cropBottom(img: RgbImage, px: number): RgbImage {
  if (!Number.isInteger(px) || px < 0 || px >= img.height) {
    throw new FatalBackendError(`cannot crop ${px} rows from the bottom of a ${img.width}×${img.height} image`);
  }
  const height = img.height - px;
  return { width: img.width, height, data: img.data.subarray(0, img.width * height * 3) };
}
