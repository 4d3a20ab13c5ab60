/**
 * (b) kill -9 of the worker process mid-run, then a new worker: the run completes with exactly one result per
 * cell and the same metrics as an uninterrupted run.
 * (c) the dev server stopped mid-run and restarted on the same db file: the same outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { startDevServer, freePort } from '../server/devServer.js';
import { experimentWorkflow } from '../workflows/index.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { banditConfig, harness, mmluConfig, referenceMetrics, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { comparableMetrics, ensureRunFiles, storedCells } from './support/cells.js';
import { probitPolicy } from './support/banditPolicy.js';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
const CELLS = 16 * 4;
let fake: FakeOpenAI;
let reference: unknown;

async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnWorker(address: string, taskQueue: string): ChildProcess {
  return spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'), 'worker', '--task-queue', taskQueue, '--concurrency', '8'], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, TEST_OPENAI_KEY: 'sk-test' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test' });
  reference = await referenceMetrics((taskQueue, outDir) => mmluConfig({ baseURL: fake.baseURL, taskQueue, outDir, name: 'ref' }));
});
afterAll(async () => fake?.close());

describe('crash recovery', () => {
  it('(b) survives kill -9 of the worker process mid-run', async () => {
    const address = inject('temporalAddress');
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const taskQueue = `crash-${randomUUID()}`;
    const outDir = tmpDir();
    fake.reset();
    fake.setLatency(100);
    let worker = spawnWorker(address, taskQueue);
    try {
      const handle = await client.workflow.start(experimentWorkflow, {
        taskQueue,
        workflowId: `crash-${randomUUID()}`,
        args: [{ config: mmluConfig({ baseURL: fake.baseURL, taskQueue, outDir, name: 'crash', execution: { heartbeat_s: 3 } }) }],
      });
      await waitFor(() => fake.calls.length >= 16, 120_000, '16 model calls');
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      const before = (await storedCells(outDir, 'crash')).length;
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(CELLS);
      worker = spawnWorker(address, taskQueue);
      const result = await handle.result();
      expect(result.cells).toBe(CELLS);
      const cells = await storedCells(outDir, 'crash');
      expect(cells).toHaveLength(CELLS);
      expect(new Set(cells.map((c) => `${c.persona}|${c.item}|${c.sample}`)).size).toBe(CELLS);
      expect(await comparableMetrics(outDir, 'crash')).toEqual(reference);
    } finally {
      fake.setLatency(0);
      worker.kill('SIGKILL');
      await connection.close();
    }
  });

  it('bandit: kill -9 mid-run resumes without changing a seeded run\'s results', async () => {
    const address = inject('temporalAddress');
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const taskQueue = `crash-bandit-${randomUUID()}`;
    const config = (outDir: string, name: string) => banditConfig({ baseURL: fake.baseURL, taskQueue, outDir, name, games: 20, seed: 11 });
    fake.setPolicy(probitPolicy({ V: 0.8, RU: 0.3, VTU: 1.5 }));
    let worker = spawnWorker(address, taskQueue);
    try {
      const clean = tmpDir();
      await client.workflow.execute(experimentWorkflow, { taskQueue, workflowId: `bandit-clean-${randomUUID()}`, args: [{ config: config(clean, 'b') }] });
      const crashed = tmpDir();
      fake.reset();
      fake.setLatency(20);
      // Its own name: with a shared store (ROLYPLAY_TEST_STORE=postgres) a second run named 'b' would be the first.
      const handle = await client.workflow.start(experimentWorkflow, { taskQueue, workflowId: `bandit-crash-${randomUUID()}`, args: [{ config: config(crashed, 'b-crash') }] });
      await waitFor(() => fake.calls.length >= 150, 120_000, '150 model calls');
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      worker = spawnWorker(address, taskQueue);
      const result = await handle.result();
      expect(result.cells).toBe(40);
      await ensureRunFiles(clean, 'b');
      await ensureRunFiles(crashed, 'b-crash');
      expect(readFileSync(join(crashed, 'b-crash', 'trials.csv'), 'utf8')).toBe(readFileSync(join(clean, 'b', 'trials.csv'), 'utf8'));
    } finally {
      fake.setLatency(0);
      fake.setPolicy(mmluPolicy(questions));
      worker.kill('SIGKILL');
      await connection.close();
    }
  });

  it('(c) survives a dev server restart on the same db file', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const dbFile = join(dir, 'temporal.db');
    let server = await startDevServer({ dbFile, port, headless: true, cli: inject('temporalCli') });
    const h = await harness(server.address);
    const outDir = tmpDir();
    fake.reset();
    fake.setLatency(100);
    try {
      await h.startWorker();
      const handle = await h.client.workflow.start(experimentWorkflow, {
        taskQueue: h.taskQueue,
        workflowId: `restart-${randomUUID()}`,
        args: [{ config: mmluConfig({ baseURL: fake.baseURL, taskQueue: h.taskQueue, outDir, name: 'restart', execution: { heartbeat_s: 3 } }) }],
      });
      await waitFor(() => fake.calls.length >= 16, 60_000, '16 model calls');
      await server.stop('SIGTERM');
      const during = (await storedCells(outDir, 'restart')).length;
      expect(during).toBeLessThan(CELLS);
      await new Promise((r) => setTimeout(r, 1000));
      server = await startDevServer({ dbFile, port, headless: true, cli: inject('temporalCli') });
      const result = await handle.result();
      expect(result.cells).toBe(CELLS);
      const cells = await storedCells(outDir, 'restart');
      expect(new Set(cells.map((c) => `${c.persona}|${c.item}|${c.sample}`)).size).toBe(CELLS);
      expect(cells).toHaveLength(CELLS);
      expect(await comparableMetrics(outDir, 'restart')).toEqual(reference);
    } finally {
      fake.setLatency(0);
      await h.close();
      await server.stop();
    }
  });
});
