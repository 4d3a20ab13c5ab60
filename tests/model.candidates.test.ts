/**
 * model: a fallback list of candidates (and named model files in configs/models): the first usable one runs, a hub
 * candidate is downloaded when online (here: from a loopback HTTP server standing in for the hub), and a fallback
 * with a warning carries it into the spec (console banner, metrics.json).
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../experiment/errors.js';
import { BUILTIN_CONFIGS, loadExperiment, modelWarningBanner, resolveConfig, resolveConfigOnline } from '../experiment/load.js';
import { readFileSync } from 'node:fs';
import { harness, tmpDir, MMLU_DATA } from './support/harness.js';
import { SMOLLM2, TINY } from './support/localFixtures.js';

const base = (model: unknown, extra: Record<string, unknown> = {}) => ({
  name: 'cand',
  task: 'mmlu',
  data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 1 },
  personas: ['baseline'],
  format: 'chat_template',
  model,
  ...extra,
});
const fallback = { backend: 'onnx', path: TINY, format: 'plain', warning: 'random weights' };
const onnx = (path: string) => ({ backend: 'onnx', path });

let server: Server;
let hubUrl: string;
let requests: string[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  // A hub stand-in: /<owner>/<name>/resolve/main/<file> served from the tiny model folder.
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/[^/]+\/[^/]+\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = m && join(TINY, decodeURIComponent(m[1]!));
    if (!file || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  process.env = { ...savedEnv };
  requests = [];
});

describe('model candidates', () => {
  it('the first candidate that exists runs; a fallback brings its format and warning, naming what was skipped', () => {
    const missing = join(tmpdir(), 'no-such-model-folder');
    const first = resolveConfig(base({ candidates: [onnx(TINY), fallback] }), [], { baseDir: '/' });
    expect(first.model).toMatchObject({ backend: 'onnx', path: TINY });
    expect(first.modelWarning).toBeUndefined();
    const spec = resolveConfig(base({ candidates: [onnx(missing), fallback] }, { chat: { system: 'You are a {persona}.' } }));
    expect(spec.model).toMatchObject({ path: TINY, variant: 'fp32' });
    expect(spec.format).toBe('plain');
    expect(spec.chat).toBeUndefined();
    expect(spec.modelWarning).toBe(`random weights — not used: ${missing} does not exist`);
    expect(modelWarningBanner(spec)).toMatch(/^!{78}\n!! WARNING: model onnx:tiny-random-llama: random weights/);
  });

  it('none usable: an error naming model.candidates and the fix', () => {
    const err = (() => { try { resolveConfig(base({ candidates: [onnx('/nope/a')] })); } catch (e) { return e as InputError; } })();
    expect(err).toBeInstanceOf(InputError);
    expect(err!.field).toBe('model.candidates');
    expect(err!.message).toMatch(/\/nope\/a does not exist.*add a local model folder/s);
  });

  it('a named model file resolves its paths against itself; an unknown name lists the files', () => {
    const spec = loadExperiment(join(BUILTIN_CONFIGS, '..', 'configs', 'mmlu-demo.yaml'));
    expect(spec.model.backend).toBe('onnx');
    const want = existsSync(join(SMOLLM2, 'onnx/model_int8.onnx')) ? SMOLLM2 : TINY;
    expect(spec.model.backend === 'onnx' && spec.model.path).toBe(want);
    expect(() => resolveConfig(base('nonesuch'))).toThrow(/unknown model "nonesuch".*demo/s);
  });

  it('a hub candidate is downloaded when online (progress, cache) and then runs', async () => {
    process.env.ROLYPLAY_MODEL_CACHE = mkdtempSync(join(tmpdir(), 'rolyplay-hub-'));
    process.env.HF_ENDPOINT = hubUrl;
    const raw = base({ candidates: [{ backend: 'onnx', path: 'test-org/tiny', variant: 'fp32' }, fallback] });
    expect(resolveConfig(raw).model).toMatchObject({ path: TINY }); // offline resolution skips it
    const spec = await resolveConfigOnline(raw);
    expect(spec.model).toMatchObject({ path: 'test-org/tiny' });
    expect(spec.modelWarning).toBeUndefined();
    expect(existsSync(join(process.env.ROLYPLAY_MODEL_CACHE, 'test-org/tiny/onnx/model.onnx'))).toBe(true);
    expect(requests.some((u) => u.endsWith('/onnx/model.onnx'))).toBe(true);
    requests = [];
    expect((await resolveConfigOnline(raw)).model).toMatchObject({ path: 'test-org/tiny' });
    expect(requests).toEqual([]); // cached: no request
  }, 60_000);

  it('offline: the hub candidate is skipped with the reason, the fallback runs with its warning', async () => {
    process.env.ROLYPLAY_MODEL_CACHE = mkdtempSync(join(tmpdir(), 'rolyplay-hub-'));
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9/'; // discard port: connection refused
    const spec = await resolveConfigOnline(base({ candidates: [{ backend: 'onnx', path: 'test-org/tiny' }, fallback] }));
    expect(spec.model).toMatchObject({ path: TINY });
    expect(spec.modelWarning).toMatch(/^random weights — not used: test-org\/tiny could not be downloaded \(.+\)$/);
    process.env.HF_HUB_OFFLINE = '1';
    const off = await resolveConfigOnline(base({ candidates: [{ backend: 'onnx', path: 'test-org/tiny' }, fallback] }));
    expect(off.modelWarning).toContain('could not be downloaded (HF_HUB_OFFLINE=1)');
  }, 60_000);

  it('through Temporal, a fallback run writes its warning into metrics.json', async () => {
    const h = await harness();
    try {
      await h.startWorker();
      const result = await h.run({
        config: {
          ...base({ candidates: [onnx(join(tmpdir(), 'no-such-model-folder')), fallback] }),
          name: 'fallback-warning',
          personas: [{ name: 'p', personas: ['detective'] }],
          execution: { task_queue: h.taskQueue },
          output: { dir: tmpDir() },
        },
      });
      expect(result.cells).toBe(1);
      const metrics = JSON.parse(readFileSync(result.files.metricsJson, 'utf8'));
      expect(metrics.model).toBe('onnx:tiny-random-llama');
      expect(metrics.model_warning).toMatch(/^random weights — not used: .*no-such-model-folder does not exist$/);
      expect(metrics.format).toBe('plain');
    } finally {
      await h.close();
    }
  }, 120_000);
});
