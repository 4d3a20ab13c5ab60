/**
 * MMLU items from the Hendrycks CSV layout: `<root>/<split>/<subject>_<split>.csv`, no header,
 * columns question,A,B,C,D,answer (SPEC §2). Fields are kept exactly as written.
 *
 * One knowing divergence from the seed: lukaemon/mmlu parses with pandas, which turns the 10 test-split option
 * cells that read exactly "None" into NaN. We keep the literal text "None" (what the question means).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { InputError } from '../../experiment/errors.js';

export const MMLU_SPLITS = ['test', 'val', 'dev'] as const;
export type MmluSplit = (typeof MMLU_SPLITS)[number];
export const OPTION_LETTERS = ['A', 'B', 'C', 'D'] as const;

export interface MmluRow {
  input: string;
  A: string;
  B: string;
  C: string;
  D: string;
  target: string;
}

export interface MmluItem {
  subject: string;
  split: MmluSplit;
  index: number;
  row: MmluRow;
  /** Index of the right answer in A..D. */
  label: number;
}

export function mmluItemId(subject: string, split: string, index: number): string {
  return `${subject}/${split}/${index}`;
}

export function subjectFile(root: string, subject: string, split: MmluSplit): string {
  return join(root, split, `${subject}_${split}.csv`);
}

/** Checks the data folder and that every subject has a file; throws an InputError naming the fix. */
export function checkMmluData(root: string, subjects: string[], split: MmluSplit, field = 'data.path'): void {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InputError(
      field,
      `MMLU data folder ${root} does not exist`,
      `point ${field} at a folder with ${split}/<subject>_${split}.csv files (e.g. ../shared/data/mmlu)`,
    );
  }
  const missing = subjects.filter((s) => !existsSync(subjectFile(root, s, split)));
  if (missing.length > 0) {
    throw new InputError(
      'data.subjects',
      `no ${split} file for ${missing.join(', ')} in ${join(root, split)}`,
      'use MMLU subject names with underscores (e.g. abstract_algebra), or check the data folder',
    );
  }
  // An empty file would plan zero cells and "succeed" with nothing scored.
  const empty = subjects.find((s) => loadSubject(root, s, split).length === 0);
  if (empty !== undefined) {
    throw new InputError(
      'data.path',
      `${subjectFile(root, empty, split)} has no questions (the file is empty)`,
      `restore ${empty}_${split}.csv from the MMLU data (question,A,B,C,D,answer rows), or leave ${empty} out of data.subjects`,
    );
  }
}

const cache = new Map<string, MmluItem[]>();

/** All items of one subject and split, in file order (cached per process: activities re-read them per batch). */
export function loadSubject(root: string, subject: string, split: MmluSplit): MmluItem[] {
  const file = subjectFile(root, subject, split);
  const hit = cache.get(file);
  if (hit) return hit;
  let records: string[][];
  try {
    records = parse(readFileSync(file, 'utf8'), { relax_column_count: true, bom: true }) as string[][];
  } catch (err) {
    throw new InputError('data.path', `cannot read ${file}: ${(err as Error).message}`, 'check that the file is a Hendrycks MMLU CSV');
  }
  const items = records.map((rec, index): MmluItem => {
    const [input, A, B, C, D, target] = rec;
    const label = OPTION_LETTERS.indexOf(target as (typeof OPTION_LETTERS)[number]);
    if (rec.length !== 6 || input === undefined || A === undefined || B === undefined || C === undefined || D === undefined || label < 0) {
      throw new InputError(
        'data.path',
        `${file} row ${index + 1} has ${rec.length} fields (answer ${JSON.stringify(target)})`,
        'each row needs question,A,B,C,D,answer with answer in A-D, and no header row',
      );
    }
    return { subject, split, index, row: { input, A, B, C, D, target: target as string }, label };
  });
  cache.set(file, items);
  return items;
}

/** The Hendrycks MMLU tarball (data/{dev,val,test}/<subject>_<split>.csv inside; ~166 MB). */
export const MMLU_TARBALL_URL = 'https://people.eecs.berkeley.edu/~hendrycks/data.tar';

export function mmluCacheDir(): string {
  return process.env.ROLYPLAY_DATA_CACHE
    ? join(process.env.ROLYPLAY_DATA_CACHE, 'mmlu')
    : join(homedir(), '.cache', 'rolyplaying', 'data', 'mmlu');
}

/** The cached copy when a download finished (its marker file exists). */
export function cachedMmluDir(cacheDir = mmluCacheDir()): string | undefined {
  return existsSync(join(cacheDir, COMPLETE)) ? cacheDir : undefined;
}

const COMPLETE = '.complete';

/**
 * Downloads the Hendrycks tarball (`$ROLYPLAY_MMLU_URL` or MMLU_TARBALL_URL; plain or gzipped tar) with a progress
 * bar and extracts its dev/val/test CSVs into the cache (via a temporary folder, so a half-done copy never counts).
 */
export async function downloadMmlu(cacheDir = mmluCacheDir(), url = process.env.ROLYPLAY_MMLU_URL ?? MMLU_TARBALL_URL): Promise<string> {
  const { downloadFile } = await import('../../net/download.js');
  const work = `${cacheDir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const tarball = join(work, 'data.tar');
    await downloadFile(url, tarball, { label: 'MMLU data.tar' });
    let tar: Buffer = readFileSync(tarball);
    if (tar[0] === 0x1f && tar[1] === 0x8b) tar = gunzipSync(tar);
    rmSync(tarball);
    const n = extractMmluCsvs(tar, work);
    if (n === 0) throw new Error(`${url} holds no data/{dev,val,test}/<subject>_<split>.csv files`);
    writeFileSync(join(work, COMPLETE), `${url}\n${n} files\n`);
    rmSync(cacheDir, { recursive: true, force: true });
    mkdirSync(dirname(cacheDir), { recursive: true });
    renameSync(work, cacheDir);
    return cacheDir;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Writes the `…/{dev,val,test}/<subject>_<split>.csv` members of a (ustar/GNU) tar into `out/<split>/`. */
export function extractMmluCsvs(tar: Buffer, out: string): number {
  let count = 0;
  let longName: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(345, 500);
    const body = tar.subarray(off + 512, off + 512 + size);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '\0') {
      const m = /(?:^|\/)(dev|val|test)\/([A-Za-z0-9_]+_(dev|val|test)\.csv)$/.exec(name);
      if (m && m[1] === m[3]) {
        mkdirSync(join(out, m[1]!), { recursive: true });
        writeFileSync(join(out, m[1]!, m[2]!), body);
        count++;
      }
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return count;
}
