/**
 * A CLIP hub id is downloaded once (the onnx backend's download code: progress, cache) from a local stand-in for the
 * hub serving the tiny CLIP folder, and then loads from the cache with no request.
 */
import { createReadStream, existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipBackend } from '../backends/clip/backend.js';
import { TINY_CLIP, tinyClipOrFail } from './support/clipFixtures.js';

describe.runIf(tinyClipOrFail())('CLIP from a hub id', () => {
  let server: Server;
  let requests: string[] = [];
  const oldEndpoint = process.env.HF_ENDPOINT;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const m = /^\/[^/]+\/[^/]+\/resolve\/main\/(.+)$/.exec(req.url ?? '');
      const file = m && join(TINY_CLIP, decodeURIComponent(m[1]!));
      if (!file || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    if (oldEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = oldEndpoint;
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('downloads the variant files into the cache, embeds as the local folder does, then needs no request', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'rolyplay-clip-hub-'));
    const hub = await ClipBackend.load({ path: 'test-org/tiny-clip', thread: false }, { cacheDir });
    const local = await ClipBackend.load({ path: TINY_CLIP, thread: false });
    try {
      expect(hub.dir).toBe(join(cacheDir, 'test-org/tiny-clip'));
      expect(requests.map((u) => u.replace(/^.*resolve\/main\//, '')).sort()).toEqual([
        'config.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx', 'preprocessor_config.json', 'tokenizer.json',
        'tokenizer_config.json',
      ]);
      const [a] = await hub.embedTexts(['A photo of a cat'], { truncation: 'seed' });
      const [b] = await local.embedTexts(['A photo of a cat'], { truncation: 'seed' });
      expect(Array.from(a!.vector)).toEqual(Array.from(b!.vector));
      expect(hub.preprocessVersion).toBe(local.preprocessVersion);
      requests = [];
      const again = await ClipBackend.load({ path: 'test-org/tiny-clip', thread: false }, { cacheDir });
      await again.close();
      expect(requests).toEqual([]);
    } finally {
      await hub.close();
      await local.close();
    }
  });
});
