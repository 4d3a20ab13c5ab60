/**
 * MMLU data on a fresh machine: an absent data folder is downloaded (the Hendrycks tarball layout) from a loopback
 * HTTP server standing in for the real host, extracted into the cache and used; offline, the error names data.path
 * and the fix. The tarballs are made by the system `tar`, plain and gzipped.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../experiment/errors.js';
import { resolveConfig, resolveConfigOnline } from '../experiment/load.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import { loadSubject } from '../tasks/mmlu/data.js';

const ROWS = 'What is 1+1?,1,2,3,4,B\n"Quoted, with comma",a,b,c,d,D\n';
let server: Server;
let base: string;
let hits: string[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  const src = mkdtempSync(join(tmpdir(), 'mmlu-src-'));
  for (const split of ['test', 'val', 'dev']) {
    mkdirSync(join(src, 'data', split), { recursive: true });
    writeFileSync(join(src, 'data', split, `abstract_algebra_${split}.csv`), ROWS);
  }
  mkdirSync(join(src, 'data', 'auxiliary_train'));
  writeFileSync(join(src, 'data', 'auxiliary_train', 'arc_easy.csv'), 'x,y\n');
  execFileSync('tar', ['-cf', join(src, 'data.tar'), '-C', src, 'data']);
  execFileSync('tar', ['-czf', join(src, 'data.tar.gz'), '-C', src, 'data']);
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const file = join(src, (req.url ?? '').replace(/^\//, ''));
    if (!/^\/data\.tar(\.gz)?$/.test(req.url ?? '') || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/x-tar' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  process.env = { ...saved };
  hits = [];
});

const config = (extra: Record<string, unknown> = {}) => ({
  name: 'dl',
  task: 'mmlu',
  data: { path: join(tmpdir(), 'no-mmlu-here'), subjects: ['abstract_algebra'], ...extra },
  personas: ['baseline'],
  model: { backend: 'openai', model: 'gpt-test' },
});

describe('MMLU download', () => {
  for (const file of ['data.tar', 'data.tar.gz']) {
    it(`an absent data folder is downloaded once (${file}), extracted and used`, async () => {
      process.env.ROLYPLAY_DATA_CACHE = mkdtempSync(join(tmpdir(), 'mmlu-cache-'));
      process.env.ROLYPLAY_MMLU_URL = `${base}/${file}`;
      expect(() => resolveConfig(config())).toThrow(/does not exist.*downloads it when online/s);
      const spec = (await resolveConfigOnline(config())) as MmluSpec;
      expect(spec.data.path).toBe(join(process.env.ROLYPLAY_DATA_CACHE, 'mmlu'));
      const items = loadSubject(spec.data.path, 'abstract_algebra', 'test');
      expect(items.map((i) => i.row.input)).toEqual(['What is 1+1?', 'Quoted, with comma']);
      expect(items.map((i) => i.label)).toEqual([1, 3]);
      expect(existsSync(join(spec.data.path, 'val', 'abstract_algebra_val.csv'))).toBe(true);
      expect(existsSync(join(spec.data.path, 'auxiliary_train'))).toBe(false);
      expect(hits).toEqual([`/${file}`]);
      // Cached: the next resolution needs no network, not even the online one.
      expect((resolveConfig(config()) as MmluSpec).data.path).toBe(spec.data.path);
      await resolveConfigOnline(config());
      expect(hits).toHaveLength(1);
    });
  }

  it('offline: a clear error naming data.path, the URL and the fix; nothing half-done is cached', async () => {
    process.env.ROLYPLAY_DATA_CACHE = mkdtempSync(join(tmpdir(), 'mmlu-cache-'));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now: connection refused
    process.env.ROLYPLAY_MMLU_URL = `http://127.0.0.1:${port}/data.tar`;
    const err = await resolveConfigOnline(config()).catch((e: unknown) => e as InputError);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe('data.path');
    expect((err as InputError).problem).toBe(
      `MMLU data folder ${join(tmpdir(), 'no-mmlu-here')} does not exist and downloading ${process.env.ROLYPLAY_MMLU_URL} failed (cannot reach ${process.env.ROLYPLAY_MMLU_URL}: ECONNREFUSED)`,
    );
    expect((err as InputError).fix).toMatch(/extract its data\/ folder to/);
    expect(existsSync(join(process.env.ROLYPLAY_DATA_CACHE, 'mmlu'))).toBe(false);
  });

  it('a tarball without MMLU files is refused; data.download: false keeps the plain error', async () => {
    process.env.ROLYPLAY_DATA_CACHE = mkdtempSync(join(tmpdir(), 'mmlu-cache-'));
    process.env.ROLYPLAY_MMLU_URL = `${base}/missing.tar`;
    await expect(resolveConfigOnline(config())).rejects.toThrow(/HTTP 404/);
    await expect(resolveConfigOnline(config({ download: false }))).rejects.toThrow(/MMLU data folder .* does not exist/);
    expect(hits).toEqual(['/missing.tar']);
  });
});
