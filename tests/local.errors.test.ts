/** Model folders that cannot work fail at load with a message naming the folder/file and the fix. */
import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FatalBackendError } from '../backends/types.js';
import { ModelFolderError } from '../backends/onnx/folder.js';
import { loadLocalModel, unloadLocalModels } from '../backends/onnx/model.js';
import { BAD_IO, copyFixture, llama3TokenizerDir, TINY, TINY_FILES, TMP } from './support/localFixtures.js';

const made: string[] = [];
const fixture = (name: string, files = TINY_FILES) => {
  const dir = copyFixture(name, files);
  made.push(dir);
  return dir;
};
afterEach(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
afterAll(unloadLocalModels);

const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
};

describe('model folder errors', () => {
  it('missing tokenizer', async () => {
    const dir = fixture('no-tokenizer', TINY_FILES.filter((f) => f !== 'tokenizer.json'));
    const err = loadLocalModel({ path: dir });
    await expect(err).rejects.toThrow(ModelFolderError);
    await expect(err).rejects.toThrow(`Model folder ${dir} is missing tokenizer.json`);
    await expect(err).rejects.toThrow(/copy both from the original model repository/);
  });

  it('missing onnx file for the variant, naming what exists', async () => {
    const err = loadLocalModel({ path: TINY, variant: 'q4' });
    await expect(err).rejects.toThrow(
      `Model folder ${TINY} has no onnx/model_q4.onnx for variant "q4" (found: onnx/model.onnx, onnx/model_fp16.onnx): ` +
        'choose variant "fp32" or "fp16", or add the file.',
    );
    const empty = fixture('no-onnx', TINY_FILES.filter((f) => !f.startsWith('onnx/')));
    await expect(loadLocalModel({ path: empty, variant: 'int8' })).rejects.toThrow(
      /no onnx\/model_int8\.onnx or onnx\/model_quantized\.onnx .*no \.onnx files.*download the ONNX export/,
    );
  });

  it('unexpected model inputs/outputs (an export without KV cache)', async () => {
    const dir = fixture('bad-io', TINY_FILES.filter((f) => !f.startsWith('onnx/')));
    copyFixture('bad-io', ['onnx/model.onnx'], BAD_IO);
    const err = loadLocalModel({ path: dir });
    await expect(err).rejects.toThrow(ModelFolderError);
    await expect(err).rejects.toThrow(
      `${dir}/onnx/model.onnx has unexpected inputs/outputs for a 2-layer decoder with KV cache: missing inputs ` +
        'position_ids, past_key_values.0.key, past_key_values.0.value, past_key_values.1.key, ' +
        'past_key_values.1.value; missing outputs present.0.key',
    );
    await expect(err).rejects.toThrow(/text-generation-with-past/);
  });

  it('vocabulary size mismatch between config.json and the logits', async () => {
    const dir = fixture('vocab-config');
    editJson(path.join(dir, 'config.json'), (j) => (j.vocab_size = 1000));
    await expect(loadLocalModel({ path: dir })).rejects.toThrow(
      `Vocabulary size mismatch: ${dir}/onnx/model.onnx produces 512 logits but ${dir}/config.json says vocab_size 1000`,
    );
  });

  it('vocabulary size mismatch between the tokenizer and the model', async () => {
    const dir = fixture('vocab-tokenizer');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      writeFileSync(path.join(dir, f), readFileSync(path.join(llama3TokenizerDir(), f)));
    }
    await expect(loadLocalModel({ path: dir })).rejects.toThrow(
      `Vocabulary size mismatch: ${dir}/tokenizer.json has token ids up to 128255 but the model has 512 logits`,
    );
  });

  it('errors are fatal backend errors and are not cached: a fixed folder loads', async () => {
    const dir = fixture('fixed', TINY_FILES.filter((f) => f !== 'tokenizer_config.json'));
    const err = await loadLocalModel({ path: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalBackendError);
    expect((err as FatalBackendError).kind).toBe('fatal');
    writeFileSync(path.join(dir, 'tokenizer_config.json'), readFileSync(path.join(TINY, 'tokenizer_config.json')));
    await expect(loadLocalModel({ path: dir })).resolves.toMatchObject({ vocabSize: 512 });
  });

  it('cuda without the CUDA libraries says how to get them', async () => {
    const loaded = await loadLocalModel({ path: TINY, executionProviders: ['cuda'] }).catch((e: Error) => e);
    if (loaded instanceof Error) {
      expect(loaded.message).toMatch(/onnxruntime cannot load .*model\.onnx.*--onnxruntime-node-install=cuda12/s);
    } else {
      expect(loaded.vocabSize).toBe(512); // a GPU machine with the CUDA build
    }
  });

  it('a path that is neither a folder nor a hub id', async () => {
    await expect(loadLocalModel({ path: '/nonexistent/models/x/y' })).rejects.toThrow(
      /Model folder \/nonexistent\/models\/x\/y does not exist\. Set model\.path to a local folder/,
    );
  });
});

describe('hub ids', () => {
  const remoteHost = env.remoteHost;
  const transformersCache = env.cacheDir;
  afterEach(() => {
    env.remoteHost = remoteHost;
    env.cacheDir = transformersCache;
  });

  it('offline: a clear error telling to point model.path at a local folder', async () => {
    env.remoteHost = 'http://127.0.0.1:9/'; // nothing listens there: connection refused, like no network
    const cacheDir = path.join(TMP, `hub-offline-${process.pid}`);
    const err = loadLocalModel({ path: 'onnx-community/not-cached', cacheDir });
    await expect(err).rejects.toThrow(ModelFolderError);
    await expect(err).rejects.toThrow(
      `Model "onnx-community/not-cached" is not in the local cache (${cacheDir}/onnx-community/not-cached) and ` +
        'could not be fetched from http://127.0.0.1:9/',
    );
    await expect(err).rejects.toThrow(/set model\.path to that local folder/);
  });

  it('online: downloads the files of the variant into the cache, then loads from there', async () => {
    // A stand-in for the hub on loopback: /<org>/<name>/resolve/main/<file> serves the tiny fixture.
    const served: string[] = [];
    const server: Server = createServer((req, res) => {
      const file = decodeURIComponent(req.url!).replace(/^\/org\/tiny\/resolve\/main\//, '');
      const full = path.join(TINY, file);
      if (!existsSync(full) || file.includes('..')) return void res.writeHead(404).end();
      served.push(`${req.method} ${file}`);
      res.writeHead(200, { 'content-length': statSync(full).size });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(full).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      env.remoteHost = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      env.cacheDir = path.join(TMP, `transformers-cache-${process.pid}`);
      const cacheDir = path.join(TMP, `hub-${process.pid}`);
      made.push(cacheDir, env.cacheDir);
      const model = await loadLocalModel({ path: 'org/tiny', cacheDir });
      expect(model.dir).toBe(path.join(cacheDir, 'org/tiny'));
      for (const f of [...TINY_FILES, 'onnx/model.onnx_data']) expect(existsSync(path.join(model.dir, f))).toBe(true);
      expect(existsSync(path.join(model.dir, 'onnx/model_fp16.onnx'))).toBe(false);
      expect(served).toContain('GET onnx/model.onnx_data');
    } finally {
      server.close();
    }
  });
});
