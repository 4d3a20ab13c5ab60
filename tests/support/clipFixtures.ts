/** The tiny CLIP fixture (scripts/make-tiny-clip.py via scripts/make-fixtures.sh) and the golden CLIP vectors. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Generated: `bash scripts/make-fixtures.sh` (random weights, real BPE vocabulary, photos, PyTorch reference). */
export const TINY_CLIP = path.join(ROOT, '.cache/fixtures/tiny-clip');
export const CLIP_IMAGES = path.join(TINY_CLIP, 'images');
export const hasTinyClip = existsSync(path.join(TINY_CLIP, 'reference.json'));

/**
 * Whether the CLIP fixture tests can run: under CI=true a missing fixture fails the suite (CI must have run
 * make-fixtures.sh); a developer machine skips those tests with a warning.
 */
export function tinyClipOrFail(): boolean {
  if (!hasTinyClip && process.env.CI) throw new Error(`${TINY_CLIP} is missing: generate it with \`bash scripts/make-fixtures.sh\``);
  if (!hasTinyClip) console.warn(`${TINY_CLIP} is missing: the CLIP fixture tests are skipped (bash scripts/make-fixtures.sh)`);
  return hasTinyClip;
}


export interface ClipReference {
  texts: { text: string; ids: number[]; seed: number[]; eos: number[] }[];
  bos: number[];
  images: { file: string; pixels: { sum: number; first: number[] }; embedding: number[] }[];
}
export function clipReference(): ClipReference {
  return JSON.parse(readFileSync(path.join(TINY_CLIP, 'reference.json'), 'utf8')) as ClipReference;
}
