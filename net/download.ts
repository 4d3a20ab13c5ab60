/** Downloads with a progress bar (one line per file when stderr is not a terminal) into a file, atomically. */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';

/** Bars for several files, or undefined off a terminal (cli-progress draws garbage on stop() in logs and CI). */
export function progressBars(): cliProgress.MultiBar | undefined {
  return process.stderr.isTTY
    ? new cliProgress.MultiBar(
        { format: ' {file} [{bar}] {percentage}% {value}/{total} MB', hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
}

/** GET `url` into `dest` (via `dest.partial`, renamed when complete); throws on HTTP errors and network failures. */
export async function downloadFile(
  url: string,
  dest: string,
  opts: { label?: string; bars?: cliProgress.MultiBar; headers?: Record<string, string> } = {},
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.headers ?? {} });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new Error(`Downloading ${url} failed: HTTP ${res.status}.`);
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  const total = Number(res.headers.get('content-length') ?? 0);
  const bar = opts.bars?.create(mb(total), 0, { file: opts.label ?? path.basename(dest) });
  if (!bar) console.error(`downloading ${url} (${mb(total)} MB)`);
  let done = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      bar?.update(mb(done));
      cb(null, chunk);
    },
  });
  await mkdir(path.dirname(dest), { recursive: true });
  const partial = `${dest}.partial`;
  try {
    await pipeline(Readable.fromWeb(res.body as never), count, createWriteStream(partial));
    await rename(partial, dest);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
