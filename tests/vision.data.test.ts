/**
 * Vision data sets: the toy CUB fixture (tests/fixtures/toy-cub), the seed's class-name fixes, a plain class/image
 * folder, and the HF parquet path (Stanford Cars / FGVC-Aircraft) downloaded from a loopback HTTP server standing in
 * for the hub (parquet files made by scripts/vision/make-hf-parquet.py), cached, and refused offline with the fix.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../experiment/errors.js';
import {
  checkSameClassNames,
  ensureHfParquet,
  hfCacheDir,
  loadCub,
  loadHfSet,
  loadImageFolder,
  loadVisionData,
  readImageBytes,
} from '../tasks/vision/data.js';

const TOY = join(import.meta.dirname, 'fixtures', 'toy-cub');
const HF = join(import.meta.dirname, 'fixtures', 'hf-parquet');
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}
async function inputErrorAsync(f: () => Promise<unknown>): Promise<InputError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

/** A CUB layout with the given class folders, 2 images each (image 1 train, 2 test), copied from the toy set. */
function makeCub(folders: string[], tweak: (dir: string) => void = () => {}): string {
  const root = tmp('cub-');
  const dir = join(root, 'CUB_200_2011');
  const src = join(TOY, 'CUB_200_2011', 'images', '001.Tabby_Cat', 'Tabby_Cat_0002.jpg');
  const images: string[] = [], labels: string[] = [], split: string[] = [];
  let id = 0;
  folders.forEach((f, c) => {
    mkdirSync(join(dir, 'images', f), { recursive: true });
    for (const v of [1, 2]) {
      id++;
      const rel = `${f}/img_${v}.jpg`;
      copyFileSync(src, join(dir, 'images', rel));
      images.push(`${id} ${rel}`);
      labels.push(`${id} ${c + 1}`);
      split.push(`${id} ${v === 1 ? 1 : 0}`);
    }
  });
  writeFileSync(join(dir, 'images.txt'), images.join('\n') + '\n');
  writeFileSync(join(dir, 'image_class_labels.txt'), labels.join('\n') + '\n');
  writeFileSync(join(dir, 'train_test_split.txt'), split.join('\n') + '\n');
  tweak(dir);
  return root;
}

describe('CUB layout', () => {
  it('toy set: test split = is_training_img 0, labels target − 1, names from folders, bytes readable', async () => {
    const ds = loadCub(TOY);
    expect(ds.classNames).toEqual(['Tabby Cat', 'Coffee Cup', 'Astronaut', 'Rocket Launch', 'Horse Silhouette']);
    expect(ds.items).toHaveLength(15);
    expect(ds.items.map((i) => i.classIndex)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expect(ds.items[0]).toMatchObject({ id: '2', classIndex: 0 });
    expect(ds.preprocessing).toEqual({});
    const bytes = await readImageBytes(ds.items[0]!);
    expect([...bytes.subarray(0, 3)]).toEqual(JPEG_MAGIC);
    const train = loadCub(join(TOY, 'CUB_200_2011'), 'train');
    expect(train.items.map((i) => i.id)).toEqual(['1', '5', '9', '13', '17']);
    checkSameClassNames(train.classNames, ds.classNames, 'toy');
  });

  it('loadVisionData dispatches and checks the train names of CUB', async () => {
    expect((await loadVisionData({ dataset: 'cub', path: TOY })).items).toHaveLength(15);
    const root = makeCub(['001.A', '002.B'], (d) => writeFileSync(join(d, 'train_test_split.txt'), '1 0\n2 0\n3 1\n4 0\n'));
    await expect(loadVisionData({ dataset: 'cub', path: root })).rejects.toThrow(/classes 1 have no train images/);
    await expect(loadVisionData({ dataset: 'cars', download: false }, { cache: tmp('hf-cache-') })).rejects.toThrow(/not in the cache .* download is false.*Fix: set data\.download: true/);
  });

  it("the seed's class-name fixes", () => {
    const ds = loadCub(makeCub(['001.Black_footed_Albatross', '002.Chuck_will_Widow', '003.Sayornis', '004.Forsters_Tern', '005.Nelson_Sharp_tailed_Sparrow']));
    expect(ds.classNames).toEqual(['Black footed Albatross', "Chuck will's Widow", 'Sayornis Phoebe', "Forster's Tern", "Nelson's Sharp tailed Sparrow"]);
  });

  it('missing folder or index file: the error names the path and the fix', () => {
    expect(inputError(() => loadCub('/nonexistent/cub')).message).toMatch(/CUB folder \/nonexistent\/cub does not exist.*data\.caltech\.edu/);
    const root = makeCub(['001.A', '002.B'], (d) => rmSync(join(d, 'train_test_split.txt')));
    expect(inputError(() => loadCub(root)).message).toMatch(/train_test_split\.txt is missing/);
  });

  it('a listed image that cannot be read', () => {
    const root = makeCub(['001.A', '002.B'], (d) => rmSync(join(d, 'images', '002.B', 'img_2.jpg')));
    expect(inputError(() => loadCub(root)).message).toMatch(/1 image\(s\) listed in .*images\.txt cannot be read, first .*002\.B\/img_2\.jpg/);
    expect(loadCub(root, 'test', { checkFiles: false }).items).toHaveLength(2);
  });

  it('a class without test images', () => {
    const root = makeCub(['001.A', '002.B', '003.C'], (d) => writeFileSync(join(d, 'train_test_split.txt'), '1 1\n2 0\n3 1\n4 1\n5 1\n6 0\n'));
    expect(inputError(() => loadCub(root)).message).toMatch(/classes 2 have no test images/);
  });

  it('labels that disagree with the folder, bad rows, classes.txt that disagrees', () => {
    let root = makeCub(['001.A', '002.B'], (d) => writeFileSync(join(d, 'image_class_labels.txt'), '1 1\n2 2\n3 2\n4 2\n'));
    expect(inputError(() => loadCub(root)).message).toMatch(/image id 2: image_class_labels\.txt says class 2, its folder 001\.A says 1/);
    root = makeCub(['001.A', '002.B'], (d) => writeFileSync(join(d, 'images.txt'), '1 001.A/img_1.jpg extra\n'));
    expect(inputError(() => loadCub(root)).message).toMatch(/images\.txt line 1 is .* not "<img_id> <value>"/);
    root = makeCub(['001.A', '002.B'], (d) => writeFileSync(join(d, 'classes.txt'), '1 001.A\n2 002.Z\n'));
    expect(inputError(() => loadCub(root)).message).toMatch(/classes\.txt: class 2 is "002\.Z"/);
  });
});

describe('class/image folder', () => {
  it('classes sorted, images listed, empty class refused', async () => {
    const root = tmp('folder-');
    for (const [cls, n] of [['zebra', 2], ['Ant', 1], ['cat', 1]] as const) {
      mkdirSync(join(root, cls));
      for (let i = 0; i < n; i++) copyFileSync(join(TOY, 'CUB_200_2011', 'images', '002.Coffee_Cup', 'Coffee_Cup_0001.jpg'), join(root, cls, `${i}.JPG`));
    }
    writeFileSync(join(root, 'cat', 'notes.txt'), 'not an image');
    const ds = loadImageFolder(root);
    expect(ds.classNames).toEqual(['Ant', 'cat', 'zebra']);
    expect(ds.items.map((i) => [i.id, i.classIndex])).toEqual([['Ant/0.JPG', 0], ['cat/0.JPG', 1], ['zebra/0.JPG', 2], ['zebra/1.JPG', 2]]);
    expect([...(await readImageBytes(ds.items[3]!)).subarray(0, 3)]).toEqual(JPEG_MAGIC);
    mkdirSync(join(root, 'empty'));
    expect(inputError(() => loadImageFolder(root)).message).toMatch(/empty hold no images/);
    expect(inputError(() => loadImageFolder(join(root, 'nope'))).message).toMatch(/does not exist/);
    await expect(readImageBytes({ id: 'x', classIndex: 0, image: { kind: 'file', path: join(root, 'gone.jpg') } })).rejects.toThrow(/cannot read image .*gone\.jpg \(item x\): ENOENT/);
  });

  it('train/test class lists that differ are refused (the seed would describe the wrong classes)', () => {
    expect(() => checkSameClassNames(['a', 'b'], ['a', 'c'], 'set')).toThrow(/test only: "c" train only: "b"/);
    expect(() => checkSameClassNames(['a'], ['a', 'a'], 'set')).toThrow(/1 vs 2 classes/);
  });
});

describe('HF parquet data sets (local hub)', () => {
  let server: Server;
  let base: string;
  let hits: string[] = [];
  const routes: Record<string, string> = {};
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(url);
      const list = /^\/api\/datasets\/(.+)\/parquet\/default\/(\w+)$/.exec(url);
      if (list) {
        const file = routes[`${list[1]}:${list[2]}`];
        if (!file) return void res.writeHead(404).end();
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([`${base}/files/${file}`]));
      }
      const f = /^\/files\/([\w.-]+)$/.exec(url);
      if (!f || !existsSync(join(HF, f[1]!))) return void res.writeHead(404).end();
      const body = readFileSync(join(HF, f[1]!));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  afterEach(() => {
    process.env = { ...saved };
    hits = [];
  });

  it('Stanford Cars: downloaded once with the train names checked, then cached; image bytes per row', async () => {
    process.env.HF_ENDPOINT = base;
    const cache = tmp('hf-cache-');
    routes['Multimodal-Fatima/StanfordCars_test:test'] = 'test-00000-of-00001.parquet';
    routes['Multimodal-Fatima/StanfordCars_train:train'] = 'train-00000-of-00001.parquet';
    const ds = await loadHfSet('cars', { cache });
    expect(ds.classNames).toEqual(['AM General Hummer SUV 2000', 'Acura RL Sedan 2012', 'Acura TL Sedan 2012']);
    expect(ds.items.map((i) => i.classIndex)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(ds.preprocessing).toEqual({});
    expect(hits).toEqual([
      '/api/datasets/Multimodal-Fatima/StanfordCars_test/parquet/default/test',
      '/files/test-00000-of-00001.parquet',
      '/api/datasets/Multimodal-Fatima/StanfordCars_train/parquet/default/train',
      '/files/train-00000-of-00001.parquet',
    ]);
    // Row 3 lies in the second row group (row_group_size 2): its bytes are the JPEG the generator wrote.
    const bytes = await readImageBytes(ds.items[3]!);
    expect([...bytes.subarray(0, 3)]).toEqual(JPEG_MAGIC);
    expect(bytes.length).toBeGreaterThan(500);
    expect(await readImageBytes(ds.items[2]!)).not.toEqual(bytes);
    hits = [];
    const again = await loadHfSet('cars', { cache });
    expect(again.items).toEqual(ds.items);
    expect(hits).toEqual([]);
  });

  it('a vision config on Stanford Cars: refused offline until downloaded; `rolyplay run`\'s online resolve downloads it first', async () => {
    process.env.HF_ENDPOINT = base;
    process.env.ROLYPLAY_DATA_CACHE = tmp('hf-cache-');
    routes['Multimodal-Fatima/StanfordCars_test:test'] = 'test-00000-of-00001.parquet';
    routes['Multimodal-Fatima/StanfordCars_train:train'] = 'train-00000-of-00001.parquet';
    const { resolveConfig, resolveConfigOnline } = await import('../experiment/load.js');
    await import('./support/tasks.js');
    const cfg = { task: 'vision', name: 'cars', data: { dataset: 'cars' }, models: { llm: { backend: 'openai', model: 'm' }, clip: { backend: 'clip', path: 'Xenova/clip-vit-base-patch32' } } };
    expect(() => resolveConfig(cfg, [], { file: 'vl-cars.yaml' })).toThrow(/^vl-cars\.yaml: data\.dataset: Multimodal-Fatima\/StanfordCars_test \(test\) is not downloaded\. Fix: `rolyplay run` downloads it/);
    expect(hits).toEqual([]);
    const spec = await resolveConfigOnline(cfg, [], { file: 'vl-cars.yaml' });
    expect(spec).toMatchObject({ task: 'vision', data: { dataset: 'cars' } });
    expect(hits.filter((h) => h.startsWith('/files/'))).toEqual(['/files/test-00000-of-00001.parquet', '/files/train-00000-of-00001.parquet']);
    expect(resolveConfig(cfg).specHash).toBe(spec.specHash); // cached now: resolves offline
    // A failed download is named with its reason.
    process.env.ROLYPLAY_DATA_CACHE = tmp('hf-cache-');
    delete routes['Multimodal-Fatima/StanfordCars_train:train'];
    await expect(resolveConfigOnline(cfg, [], { file: 'vl-cars.yaml' })).rejects.toThrow(/data\.dataset: downloading Multimodal-Fatima\/StanfordCars_train \(train\) failed/);
  });

  it('FGVC-Aircraft records crop_bottom 20; differing train names are refused', async () => {
    process.env.HF_ENDPOINT = base;
    routes['Multimodal-Fatima/FGVC_Aircraft_test:test'] = 'test-00000-of-00001.parquet';
    routes['Multimodal-Fatima/FGVC_Aircraft_train:train'] = 'train-other-names.parquet';
    const cache = tmp('hf-cache-');
    const err = await inputErrorAsync(() => loadHfSet('aircraft', { cache }));
    expect(err.message).toMatch(/test only: "Acura TL Sedan 2012" train only: "Acura TL Type-S 2008".*empty description/);
    const ds = await loadHfSet('aircraft', { cache, namesFrom: 'test' });
    expect(ds.preprocessing).toEqual({ crop_bottom: 20 });
  });

  it('a local data.path of parquet folders needs no network', async () => {
    const dir = tmp('hf-local-');
    mkdirSync(join(dir, 'test'));
    mkdirSync(join(dir, 'train'));
    copyFileSync(join(HF, 'test-00000-of-00001.parquet'), join(dir, 'test', 'a.parquet'));
    expect((await inputErrorAsync(() => loadHfSet('cars', { path: dir }))).message).toMatch(/train holds no \.parquet files.*names_from: test/);
    copyFileSync(join(HF, 'train-00000-of-00001.parquet'), join(dir, 'train', 'a.parquet'));
    expect((await loadHfSet('cars', { path: dir })).items).toHaveLength(6);
    expect(hits).toEqual([]);
  });

  it('offline: a clear error naming the repository, the URL and the fix; nothing half-done is cached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
    const cache = tmp('hf-cache-');
    const err = await inputErrorAsync(() => ensureHfParquet('Multimodal-Fatima/StanfordCars_test', 'test', { cache }));
    expect(err.message).toMatch(/cannot list the parquet files of Multimodal-Fatima\/StanfordCars_test \(test\) at http:\/\/127\.0\.0\.1:\d+\/api\/datasets\/.*ECONNREFUSED.*Fix: connect to the internet once.*data\.path/);
    // A listing that points at a missing file fails the download and leaves no cache behind.
    process.env.HF_ENDPOINT = base;
    routes['X/broken:test'] = 'no-such.parquet';
    await expect(ensureHfParquet('X/broken', 'test', { cache })).rejects.toThrow(/downloading X\/broken \(test\) failed: .*HTTP 404/);
    expect(() => readFileSync(join(hfCacheDir('X/broken', 'test', cache), '.complete'))).toThrow();
  });
});
