/**
 * Image data sets of the vision task (VISION.md §2). Every loader yields the same shape: class names in the seed's
 * order and items {id, classIndex, image} whose image is a file path or a (parquet file, row) reference; the bytes
 * are read with `readImageBytes(item)` and decoded by the CLIP side. Per-data-set preprocessing that the seed does
 * before CLIP's own (FGVC-Aircraft's bottom-20-px crop) is recorded in `preprocessing`, for the image side to apply
 * and to key its cache with.
 *
 * - CUB-200-2011: `<root>/CUB_200_2011/{images.txt,image_class_labels.txt,train_test_split.txt}` and
 *   `images/<NNN.Name>/<file>` (root may also be the CUB_200_2011 folder itself). Test split = is_training_img 0,
 *   label = target − 1, class name = folder name after the dot with _ → space, then the seed's 18 fixes.
 * - Any folder of `<class>/<image>` files: class = folder name, classes sorted by code point (torchvision
 *   ImageFolder's order), images sorted likewise.
 * - The seed's HF sets, Stanford Cars and FGVC-Aircraft: the hub's parquet files (image bytes inside), downloaded
 *   when online with progress into a cache, class names from the `huggingface` schema metadata
 *   (features["label"].names). See `ensureHfParquet`.
 *
 * The seed generates descriptions for the *train* split's class names and scores with the test split's
 * (M L124, L168, L400): if the two lists differ, a class silently gets the empty description. `checkSameClassNames`
 * turns that into an error.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { InputError } from '../../experiment/errors.js';

export type ImageRef = { kind: 'file'; path: string } | { kind: 'parquet'; file: string; row: number };

export interface VisionItem {
  /** Stable id: the CUB image id, the folder-relative path, or `<parquet file>#<row>`. */
  id: string;
  classIndex: number;
  image: ImageRef;
}

export interface Preprocessing {
  /** Pixels cropped off the bottom before CLIP's preprocessing (FGVC-Aircraft: 20, the copyright banner). */
  crop_bottom?: number;
}

export interface VisionDataset {
  kind: 'cub' | 'folder' | 'cars' | 'aircraft';
  /** Folder or hub repository. */
  source: string;
  split: string;
  classNames: string[];
  items: VisionItem[];
  preprocessing: Preprocessing;
}

// ---------------------------------------------------------------------------------------------------- CUB

/** cub.py L128–147, verbatim ("proper lower and upper case are important"). */
export const CUB_CLASS_NAME_FIXES: Readonly<Record<string, string>> = {
  'Chuck will Widow': "Chuck will's Widow",
  'Scott Oriole': "Scott's Oriole",
  Sayornis: 'Sayornis Phoebe',
  'Baird Sparrow': "Baird's Sparrow",
  'Brewer Blackbird': "Brewer's Blackbird",
  'Brandt Cormorant': "Brandt's Cormorant",
  'Heermann Gull': "Heermann's Gull",
  'Clark Nutcracker': "Clark's Nutcracker",
  'Brewer Sparrow': "Brewer's Sparrow",
  'Harris Sparrow': "Harris's Sparrow",
  'Henslow Sparrow': "Henslow's Sparrow",
  'Le Conte Sparrow': "Le Conte's Sparrow",
  'Lincoln Sparrow': "Lincoln's Sparrow",
  'Nelson Sharp tailed Sparrow': "Nelson's Sharp tailed Sparrow",
  'Forsters Tern': "Forster's Tern",
  'Swainson Warbler': "Swainson's Warbler",
  'Wilson Warbler': "Wilson's Warbler",
  'Bewick Wren': "Bewick's Wren",
};

export const CUB_URL = 'https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1';
const CUB_FILES = ['images.txt', 'image_class_labels.txt', 'train_test_split.txt'] as const;

/** "001.Black_footed_Albatross" → [0, "Black footed Albatross"] (before the fixes). */
export function cubFolderClass(folder: string, where: string): [number, string] {
  const m = /^(\d+)\.([^.]+)$/.exec(folder);
  if (!m) throw new InputError('data.path', `${where}: image folder "${folder}" is not <number>.<Name> (CUB's "001.Black_footed_Albatross")`, 'use the CUB-200-2011 layout, or dataset: folder for a plain <class>/<image> tree');
  return [Number(m[1]) - 1, m[2]!.replaceAll('_', ' ')];
}

export function cubClassName(folderName: string): string {
  return CUB_CLASS_NAME_FIXES[folderName] ?? folderName;
}

/** The CUB_200_2011 folder under root (or root itself). */
export function cubDir(root: string, field = 'data.path'): string {
  const fix = `point ${field} at the folder that holds CUB_200_2011/ (extract CUB_200_2011.tgz from ${CUB_URL})`;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new InputError(field, `CUB folder ${root} does not exist`, fix);
  const dir = existsSync(join(root, 'CUB_200_2011')) ? join(root, 'CUB_200_2011') : root;
  for (const f of CUB_FILES) {
    if (!existsSync(join(dir, f))) throw new InputError(field, `${join(dir, f)} is missing (CUB needs ${CUB_FILES.join(', ')} and images/)`, fix);
  }
  return dir;
}

/** `img_id value` rows of a CUB index file (pandas read_csv sep=" " with two columns). */
function readIndex(file: string): Map<string, string> {
  const out = new Map<string, string>();
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const parts = line.split(' ');
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
        throw new InputError('data.path', `${file} line ${i + 1} is ${JSON.stringify(line)}, not "<img_id> <value>"`, 'restore the file from CUB_200_2011.tgz');
      }
      if (out.has(parts[0]!)) throw new InputError('data.path', `${file} line ${i + 1}: image id ${parts[0]} appears twice`, 'restore the file from CUB_200_2011.tgz');
      out.set(parts[0]!, parts[1]!);
    });
  return out;
}

export function loadCub(root: string, split: 'test' | 'train' = 'test', opts: { checkFiles?: boolean } = {}): VisionDataset {
  const dir = cubDir(root);
  const [images, labels, splits] = CUB_FILES.map((f) => readIndex(join(dir, f))) as [Map<string, string>, Map<string, string>, Map<string, string>];
  const want = split === 'train' ? '1' : '0';
  const names = new Map<number, string>();
  const items: VisionItem[] = [];
  for (const [id, filepath] of images) {
    // pandas inner joins on img_id: an image without a label or split row is dropped; we refuse it instead.
    const target = labels.get(id);
    const isTrain = splits.get(id);
    if (target === undefined || isTrain === undefined) {
      throw new InputError('data.path', `image id ${id} (${filepath}) of images.txt has no row in ${target === undefined ? 'image_class_labels.txt' : 'train_test_split.txt'}`, 'restore the CUB index files from CUB_200_2011.tgz');
    }
    if (isTrain !== '0' && isTrain !== '1') throw new InputError('data.path', `train_test_split.txt: image id ${id} has is_training_img ${isTrain}`, 'is_training_img must be 0 or 1');
    if (isTrain !== want) continue;
    const classIndex = Number(target) - 1;
    const folder = filepath.split('/')[0] ?? '';
    const [folderIndex, name] = cubFolderClass(folder, join(dir, 'images.txt'));
    if (!Number.isInteger(classIndex) || classIndex !== folderIndex) {
      throw new InputError('data.path', `image id ${id}: image_class_labels.txt says class ${target}, its folder ${folder} says ${folderIndex + 1}`, 'restore the CUB index files from CUB_200_2011.tgz');
    }
    // dict insertion order (M L168): the seed's class list is in order of first appearance.
    if (!names.has(classIndex)) names.set(classIndex, cubClassName(name));
    items.push({ id, classIndex, image: { kind: 'file', path: join(dir, 'images', filepath) } });
  }
  const order = [...names.keys()];
  const k = Math.max(-1, ...order) + 1;
  const missing = Array.from({ length: k }, (_, i) => i).filter((i) => !names.has(i));
  if (missing.length > 0) {
    throw new InputError('data.path', `classes ${missing.map((i) => i + 1).join(', ')} have no ${split} images in ${dir}`, 'restore the images and index files from CUB_200_2011.tgz (the seed would shift every later class name by one)');
  }
  if (order.some((c, i) => c !== i)) {
    throw new InputError('data.path', `${join(dir, 'images.txt')} is not sorted by class folder (the seed takes class names in order of first appearance, so names and labels would disagree)`, 'restore images.txt from CUB_200_2011.tgz');
  }
  checkClassesTxt(dir, names);
  if (opts.checkFiles ?? true) checkFilesExist(items, `${dir}/images.txt`);
  return { kind: 'cub', source: dir, split, classNames: order.map((i) => names.get(i)!), items, preprocessing: {} };
}

/** classes.txt is not read by the seed; when present it must agree with the folder names. */
function checkClassesTxt(dir: string, names: Map<number, string>): void {
  const file = join(dir, 'classes.txt');
  if (!existsSync(file)) return;
  for (const [num, folder] of readIndex(file)) {
    const [idx, name] = cubFolderClass(folder, file);
    if (idx !== Number(num) - 1) throw new InputError('data.path', `${file}: class ${num} is folder ${folder}`, 'restore classes.txt from CUB_200_2011.tgz');
    const have = names.get(idx);
    if (have !== undefined && have !== cubClassName(name)) throw new InputError('data.path', `${file}: class ${num} is "${folder}" but its images are in a folder named for "${have}"`, 'restore classes.txt or the image folders from CUB_200_2011.tgz');
  }
}

function checkFilesExist(items: readonly VisionItem[], listedIn: string): void {
  const bad = items.filter((it) => it.image.kind === 'file' && !isReadableFile(it.image.path));
  if (bad.length > 0) {
    const first = bad[0]!.image as { path: string };
    throw new InputError('data.path', `${bad.length} image(s) listed in ${listedIn} cannot be read, first ${first.path}`, 'restore the missing images (or remove their rows from the index files)');
  }
}

function isReadableFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------- folder

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Any `<root>/<class>/<image>` tree (torchvision ImageFolder: sorted class folders, image extensions only). */
export function loadImageFolder(root: string, field = 'data.path'): VisionDataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InputError(field, `image folder ${root} does not exist`, `point ${field} at a folder with one sub-folder per class holding its images`);
  }
  const classes = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort(byCodePoint);
  if (classes.length === 0) throw new InputError(field, `${root} has no class sub-folders`, 'put each class\'s images in <root>/<class name>/');
  const items: VisionItem[] = [];
  const empty: string[] = [];
  classes.forEach((cls, classIndex) => {
    const files = readdirSync(join(root, cls), { recursive: true, encoding: 'utf8' })
      .filter((f) => IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e)))
      .sort(byCodePoint);
    if (files.length === 0) empty.push(cls);
    for (const f of files) {
      const path = join(root, cls, f);
      if (!isReadableFile(path)) continue;
      items.push({ id: relative(root, path).split('\\').join('/'), classIndex, image: { kind: 'file', path } });
    }
  });
  if (empty.length > 0) {
    throw new InputError(field, `class folder(s) ${empty.map((c) => join(root, c)).join(', ')} hold no images (${IMAGE_EXTENSIONS.join(' ')})`, 'add images or remove the empty folders (a class without test images has no accuracy)');
  }
  return { kind: 'folder', source: root, split: 'all', classNames: classes, items, preprocessing: {} };
}

// ---------------------------------------------------------------------------------------------------- names

/** The seed's empty-description hazard (VISION.md §2): descriptions are made for one list, scoring uses another. */
export function checkSameClassNames(describeNames: readonly string[], scoreNames: readonly string[], what: string): void {
  const a = new Set(describeNames);
  const onlyScore = scoreNames.filter((n) => !a.has(n));
  const onlyDescribe = describeNames.filter((n) => !new Set(scoreNames).has(n));
  if (onlyScore.length > 0 || onlyDescribe.length > 0 || describeNames.length !== scoreNames.length) {
    throw new InputError(
      'data',
      `${what}: the train split's class names (used for the descriptions) differ from the test split's (used for scoring): ` +
        `${onlyScore.length ? `test only: ${onlyScore.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}` : ''}` +
        `${onlyDescribe.length ? ` train only: ${onlyDescribe.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}` : ''}` +
        `${describeNames.length !== scoreNames.length ? ` (${describeNames.length} vs ${scoreNames.length} classes)` : ''}`,
      'use matching train and test sets (the seed would give those classes the empty description "A photo of ")',
    );
  }
}

// ---------------------------------------------------------------------------------------------------- HF parquet

export interface HfSetSpec {
  kind: 'cars' | 'aircraft';
  test: string;
  train: string;
  preprocessing: Preprocessing;
}

/** The seed's hub data sets (stanford_cars.py L20, fgvc_aircraft.py L20, L37–41). */
export const HF_SETS: Readonly<Record<'cars' | 'aircraft', HfSetSpec>> = {
  cars: { kind: 'cars', test: 'Multimodal-Fatima/StanfordCars_test', train: 'Multimodal-Fatima/StanfordCars_train', preprocessing: {} },
  aircraft: { kind: 'aircraft', test: 'Multimodal-Fatima/FGVC_Aircraft_test', train: 'Multimodal-Fatima/FGVC_Aircraft_train', preprocessing: { crop_bottom: 20 } },
};

export function hfEndpoint(): string {
  return (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function visionDataCacheDir(): string {
  return process.env.ROLYPLAY_DATA_CACHE ?? join(homedir(), '.cache', 'rolyplaying', 'data');
}

/** Where a repository's split is cached: `<cache>/hf/<owner>__<name>/<split>/`. */
export function hfCacheDir(repo: string, split: string, cache = visionDataCacheDir()): string {
  return join(cache, 'hf', repo.replaceAll('/', '__'), split);
}

const COMPLETE = '.complete';

/** The cached parquet files of a finished download, or undefined. */
export function cachedHfParquet(repo: string, split: string, cache = visionDataCacheDir()): string[] | undefined {
  const dir = hfCacheDir(repo, split, cache);
  if (!existsSync(join(dir, COMPLETE))) return undefined;
  return parquetFilesIn(dir);
}

export function parquetFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.parquet'))
    .sort(byCodePoint)
    .map((f) => join(dir, f));
}

/**
 * The parquet files of `repo`'s `split` (hub config `default`): from the cache, else downloaded with progress via
 * the hub's parquet listing `GET {HF_ENDPOINT}/api/datasets/{repo}/parquet/default/{split}` (a JSON list of URLs),
 * into a temporary folder renamed when complete. Offline or on an HTTP error: an InputError with the fix.
 */
export async function ensureHfParquet(repo: string, split: string, opts: { cache?: string; token?: string } = {}): Promise<string[]> {
  const cache = opts.cache ?? visionDataCacheDir();
  const hit = cachedHfParquet(repo, split, cache);
  if (hit) return hit;
  const { downloadFile, progressBars } = await import('../../net/download.js');
  const dir = hfCacheDir(repo, split, cache);
  const listUrl = `${hfEndpoint()}/api/datasets/${repo}/parquet/default/${split}`;
  const token = opts.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const fix = `connect to the internet once (the files are cached in ${dir}), or download the parquet files of ${repo} yourself and set data.path to their folder`;
  let urls: string[];
  try {
    const res = await fetch(listUrl, { headers });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    urls = (await res.json()) as string[];
    if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== 'string')) throw new Error('the listing is not a non-empty JSON list of URLs');
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new InputError('data.dataset', `cannot list the parquet files of ${repo} (${split}) at ${listUrl}: ${cause ?? (e as Error).message}`, fix);
  }
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bars = progressBars();
  try {
    for (const [i, url] of urls.entries()) {
      await downloadFile(url, join(work, `${String(i).padStart(4, '0')}.parquet`), { label: `${repo} ${split} ${i + 1}/${urls.length}`, bars, headers });
    }
    writeFileSync(join(work, COMPLETE), `${urls.join('\n')}\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(work, dir);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw new InputError('data.dataset', `downloading ${repo} (${split}) failed: ${(e as Error).message}`, fix);
  } finally {
    bars?.stop();
  }
  return parquetFilesIn(dir);
}

interface ParquetMeta {
  num_rows: bigint | number;
  key_value_metadata?: { key: string; value?: string }[];
}

async function parquetMeta(file: string): Promise<ParquetMeta> {
  const { asyncBufferFromFile, parquetMetadataAsync } = await import('hyparquet');
  try {
    return (await parquetMetadataAsync(await asyncBufferFromFile(file))) as ParquetMeta;
  } catch (e) {
    throw new InputError('data.path', `${file} is not a readable parquet file: ${(e as Error).message}`, 'delete it (and the folder\'s .complete marker) so it is downloaded again');
  }
}

/** `features["label"].names` from a `datasets` parquet file's `huggingface` schema metadata. */
export async function hfLabelNames(file: string): Promise<string[]> {
  const md = await parquetMeta(file);
  const raw = md.key_value_metadata?.find((kv) => kv.key === 'huggingface')?.value;
  let names: unknown;
  try {
    names = (JSON.parse(raw ?? 'null') as { info?: { features?: { label?: { names?: unknown } } } } | null)?.info?.features?.label?.names;
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
    throw new InputError('data.path', `${file} has no class names (schema metadata "huggingface" → info.features.label.names)`, 'use the parquet files of a `datasets` ClassLabel data set (the hub\'s Multimodal-Fatima sets have them)');
  }
  return names as string[];
}

/** Items of one split from its parquet files (columns `label` and `image` {bytes, path}); names from the first file. */
export async function loadHfParquet(files: readonly string[], spec: { kind: 'cars' | 'aircraft'; source: string; split: string; preprocessing: Preprocessing }): Promise<VisionDataset> {
  if (files.length === 0) throw new InputError('data.path', `no parquet files for ${spec.source} (${spec.split})`, 'point data.path at a folder of .parquet files, or let the download fill the cache');
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const classNames = await hfLabelNames(files[0]!);
  const items: VisionItem[] = [];
  for (const file of files) {
    const names = await hfLabelNames(file);
    if (names.join('\n') !== classNames.join('\n')) throw new InputError('data.path', `${file} lists other class names than ${files[0]}`, 'use the parquet files of one data set and split');
    let rows: { label: unknown }[];
    try {
      rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file), columns: ['label'] })) as { label: unknown }[];
    } catch (e) {
      throw new InputError('data.path', `cannot read column "label" of ${file}: ${(e as Error).message}`, 'the parquet files need `label` (int) and `image` ({bytes, path}) columns');
    }
    rows.forEach((r, row) => {
      const label = Number(r.label);
      if (!Number.isInteger(label) || label < 0 || label >= classNames.length) {
        throw new InputError('data.path', `${file} row ${row}: label ${String(r.label)} is outside 0..${classNames.length - 1}`, 'check that the file belongs to this data set');
      }
      items.push({ id: `${file.split('/').pop()}#${row}`, classIndex: label, image: { kind: 'parquet', file, row } });
    });
  }
  const seen = new Set(items.map((i) => i.classIndex));
  const empty = classNames.filter((_, i) => !seen.has(i));
  if (empty.length > 0 && spec.split === 'test') {
    throw new InputError('data.path', `${empty.length} class(es) of ${spec.source} have no ${spec.split} images, e.g. ${JSON.stringify(empty[0])}`, 'use the complete test split');
  }
  return { kind: spec.kind, source: spec.source, split: spec.split, classNames, items, preprocessing: spec.preprocessing };
}

/**
 * Stanford Cars or FGVC-Aircraft as the seed reads them: test items for scoring, and the train split's class names
 * (what the seed describes) checked against the test split's. The seed downloads the whole train set for those names;
 * `namesFrom: 'test'` skips it. `path` (a folder with `test/` and, unless namesFrom is test, `train/` sub-folders of
 * parquet files) skips the download.
 */
export async function loadHfSet(kind: 'cars' | 'aircraft', opts: { path?: string; cache?: string; namesFrom?: 'train' | 'test' } = {}): Promise<VisionDataset> {
  const spec = HF_SETS[kind];
  const local = (split: string): string[] => {
    const dir = join(opts.path!, split);
    const files = existsSync(dir) && statSync(dir).isDirectory() ? parquetFilesIn(dir) : [];
    if (files.length === 0) {
      throw new InputError('data.path', `${dir} holds no .parquet files`, `put the ${split} parquet files of ${split === 'test' ? spec.test : spec.train} in ${dir}${split === 'train' ? ', or set names_from: test' : ''}, or leave data.path out to download them`);
    }
    return files;
  };
  const testFiles = opts.path ? local('test') : await ensureHfParquet(spec.test, 'test', { cache: opts.cache });
  const test = await loadHfParquet(testFiles, { kind, source: spec.test, split: 'test', preprocessing: spec.preprocessing });
  if ((opts.namesFrom ?? 'train') === 'train') {
    const trainFiles = opts.path ? local('train') : await ensureHfParquet(spec.train, 'train', { cache: opts.cache });
    checkSameClassNames(await hfLabelNames(trainFiles[0]!), test.classNames, spec.test);
  }
  return test;
}

// ---------------------------------------------------------------------------------------------------- bytes

const parquetCache = new Map<string, Promise<{ file: unknown; metadata: unknown }>>();

/** The encoded image (JPEG/PNG/…) of an item; decoding and CLIP preprocessing are the image side's. */
export async function readImageBytes(item: VisionItem): Promise<Uint8Array> {
  const ref = item.image;
  if (ref.kind === 'file') {
    try {
      return new Uint8Array(await readFile(ref.path));
    } catch (e) {
      throw new InputError('data.path', `cannot read image ${ref.path} (item ${item.id}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'restore the file, or remove it from the data set');
    }
  }
  const { asyncBufferFromFile, cachedAsyncBuffer, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  let open = parquetCache.get(ref.file);
  if (!open) {
    // Footer parsed once per file and process: a row read then touches only its row group's pages.
    open = (async () => {
      const file = cachedAsyncBuffer(await asyncBufferFromFile(ref.file));
      return { file, metadata: await parquetMetadataAsync(file) };
    })();
    parquetCache.set(ref.file, open);
    open.catch(() => parquetCache.delete(ref.file));
  }
  const { file, metadata } = await open;
  const rows = (await parquetReadObjects({ file: file as never, metadata: metadata as never, columns: ['image'], rowStart: ref.row, rowEnd: ref.row + 1, utf8: false })) as { image?: { bytes?: unknown } }[];
  const bytes = rows[0]?.image?.bytes;
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new InputError('data.path', `${ref.file} row ${ref.row} (item ${item.id}) has no image bytes`, 'the parquet image column must be the datasets Image struct {bytes, path} with bytes set');
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------------- dispatch

/** `data:` of a vision config (tasks/vision/config.ts), structurally. */
export type VisionDataSpec =
  | { dataset: 'cub'; path: string; split?: 'test' | 'train' }
  | { dataset: 'cars' | 'aircraft'; path?: string; download?: boolean; names_from?: 'train' | 'test' }
  | { dataset: 'folder'; path: string };

/**
 * The scored data set of a config, with the seed's checks: CUB's train-split class names (what the seed describes)
 * must equal the scored split's; the HF sets likewise (see loadHfSet). `download: false` refuses the network.
 */
export async function loadVisionData(spec: VisionDataSpec, opts: { cache?: string } = {}): Promise<VisionDataset> {
  switch (spec.dataset) {
    case 'cub': {
      const split = spec.split ?? 'test';
      const ds = loadCub(spec.path, split);
      if (split === 'test') checkSameClassNames(loadCub(spec.path, 'train', { checkFiles: false }).classNames, ds.classNames, spec.path);
      return ds;
    }
    case 'folder':
      return loadImageFolder(spec.path);
    case 'cars':
    case 'aircraft': {
      const set = HF_SETS[spec.dataset];
      if (spec.path === undefined && spec.download === false) {
        const cached = cachedHfParquet(set.test, 'test', opts.cache);
        if (!cached) throw new InputError('data.download', `${set.test} is not in the cache (${hfCacheDir(set.test, 'test', opts.cache)}) and download is false`, 'set data.download: true (online), or data.path to a folder with test/ and train/ parquet files');
      }
      return loadHfSet(spec.dataset, { path: spec.path, cache: opts.cache, namesFrom: spec.names_from ?? 'train' });
    }
  }
}
