/**
 * CLIP stage speed on this CPU (part of bench/vision.ts): images/s of the image stage, end to end as the task runs it
 * (decode + preprocess + vision model, through ClipBackend and its worker thread) and of the vision model alone (the
 * same pixels fed to one onnxruntime session), per batch size and intra-op thread count; and texts/s of the text stage.
 * Speed does not depend on weight values, so the random-weight ViT-B/32 fixture
 * (bash scripts/make-fixtures.sh --bench → .cache/fixtures/bench-clip-vitb32) stands in for the real checkpoint.
 */
import { ClipBackend } from '../backends/clip/backend.js';
import { resolveClipFolder } from '../backends/clip/folder.js';
import { decodeImageFile } from '../backends/clip/image.js';
import { preprocessImage, readPreprocessConfig } from '../backends/clip/preprocess.js';
import { LocalSessions } from '../backends/clip/sessions.js';

export interface ClipRow {
  measure: string;
  batch: number;
  threads: string;
  perSec: number;
}

const best = async (reps: number, f: () => Promise<void>): Promise<number> => {
  let s = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    s = Math.min(s, (performance.now() - t0) / 1000);
  }
  return s;
};

/** Runs `f` with ROLYPLAY_ORT_THREADS set to `threads` ('' = onnxruntime's default), read when a session is created. */
async function withThreads<T>(threads: string, f: () => Promise<T>): Promise<T> {
  const old = process.env.ROLYPLAY_ORT_THREADS;
  if (threads) process.env.ROLYPLAY_ORT_THREADS = threads;
  else delete process.env.ROLYPLAY_ORT_THREADS;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env.ROLYPLAY_ORT_THREADS;
    else process.env.ROLYPLAY_ORT_THREADS = old;
  }
}

export async function clipBench(opts: { dir: string; files: string[]; texts: string[]; batches: number[]; threads: string[]; reps: number; onRow?: (r: ClipRow) => void }): Promise<{ rows: ClipRow[]; decodeMs: number; preprocessMs: number }> {
  const { dir, files, texts, batches, threads, reps } = opts;
  const rows: ClipRow[] = [];
  const push = (r: ClipRow) => {
    rows.push(r);
    opts.onRow?.(r);
  };
  const clipFiles = await resolveClipFolder(dir, 'fp32');
  const cfg = await readPreprocessConfig(clipFiles.dir);
  // Decode and preprocess alone, one image at a time on this thread.
  const t0 = performance.now();
  const images = await Promise.all(files.map((f) => decodeImageFile(f)));
  const decodeMs = (performance.now() - t0) / files.length;
  const t1 = performance.now();
  const pixels = images.map((img) => preprocessImage(img, cfg));
  const preprocessMs = (performance.now() - t1) / files.length;
  const { width, height } = pixels[0]!;
  const plane = 3 * width * height;
  for (const th of threads) {
    const label = th || 'default';
    await withThreads(th, async () => {
      // The vision model alone.
      const local = new LocalSessions({ files: { text: clipFiles.textModel, vision: clipFiles.visionModel }, variant: 'fp32', providers: ['cpu'] });
      const feed = (from: number, n: number) => {
        const data = new Float32Array(n * plane);
        for (let j = 0; j < n; j++) data.set(pixels[from + j]!.data, j * plane);
        return { pixel_values: { type: 'float32' as const, dims: [n, 3, height, width], data } };
      };
      await local.run('vision', feed(0, 1), 'image_embeds'); // warm-up: allocations, first-run kernels
      for (const b of batches) {
        const s = await best(reps, async () => {
          for (let i = 0; i < pixels.length; i += b) await local.run('vision', feed(i, Math.min(b, pixels.length - i)), 'image_embeds');
        });
        push({ measure: 'vision model alone', batch: b, threads: label, perSec: pixels.length / s });
      }
      await local.close();
      // The task's path: files → worker (decode here, preprocess + model there) → normalised embeddings.
      for (const b of batches) {
        const clip = await ClipBackend.load({ path: clipFiles.dir, image_batch: b, text_batch: 64 });
        await clip.embedImageFiles(files.slice(0, 1));
        const s = await best(reps, async () => {
          await clip.embedImageFiles(files);
        });
        push({ measure: 'image stage (decode + preprocess + model)', batch: b, threads: label, perSec: files.length / s });
        if (b === batches[batches.length - 1]) {
          await clip.embedTexts(texts.slice(0, 1), { truncation: 'seed' });
          const st = await best(reps, async () => {
            await clip.embedTexts(texts, { truncation: 'seed' });
          });
          push({ measure: 'text stage (tokenize + text model)', batch: 64, threads: label, perSec: texts.length / st });
        }
        await clip.close();
      }
    });
  }
  return { rows, decodeMs, preprocessMs };
}
