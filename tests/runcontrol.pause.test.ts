/**
 * Budgets that pause, the provider's quota, and pause/resume/throttle from the CLI (issue 11), with real processes:
 * two `rolyplay worker` processes on one SQLite run folder, the local OpenAI-protocol server over HTTP, and the
 * `rolyplay` CLI (dist/) against the suite's dev server. A pause is never a failure: the workflow stays RUNNING,
 * nothing stored is lost, and a resume finishes with every cell exactly once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { experimentWorkflow, progressQuery } from '../workflows/index.js';
import { peakInWindow, startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { mmluConfig, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { ensureRunFiles, storedCells } from './support/cells.js';
import { CLI, startFleet, waitFor, type Fleet } from './support/fleet.js';
import { describePostgres, postgresUrl } from './support/postgres.js';
import { PostgresStores } from '../store/results.js';

const LIMIT = 8;
const questions = [...readQuestions('abstract_algebra', LIMIT), ...readQuestions('anatomy', LIMIT)];
const CELLS = questions.length * 4;
const run = promisify(execFile);

let fake: FakeOpenAI;
let fleet: Fleet;
let connection: Connection;
let client: Client;
const taskQueue = `pause-${randomUUID()}`;
const address = () => inject('temporalAddress');

beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test', latencyMs: 20 });
  fleet = startFleet({ n: 2, taskQueue, address: address() });
  connection = await Connection.connect({ address: address() });
  client = new Client({ connection });
});
afterAll(async () => {
  await fleet?.kill();
  await connection?.close();
  await fake?.close();
});

/** `rolyplay <args>` (async: this process serves the fake API meanwhile). */
async function rolyplay(...args: string[]): Promise<string> {
  return rolyplayIn({}, ...args);
}

/** `rolyplay <args>` with `env` added (e.g. ROLYPLAY_STORE, as the workers have it). */
async function rolyplayIn(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const out = await run(process.execPath, [CLI, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: address(), ...env }, encoding: 'utf8' }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`rolyplay ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  });
  return out.stdout;
}

async function start(extra: { budget?: Record<string, number>; rpm?: number; execution?: Record<string, unknown>; taskQueue?: string }): Promise<{ name: string; base: string; handle: WorkflowHandle<typeof experimentWorkflow> }> {
  const name = `ctl-${randomUUID().slice(0, 8)}`;
  const base = tmpDir();
  const queue = extra.taskQueue ?? taskQueue;
  const config = mmluConfig({ baseURL: fake.baseURL, taskQueue: queue, outDir: base, name, limit: LIMIT, execution: { shards_in_flight: 2, batches_in_flight: 2, heartbeat_s: 5, ...extra.execution } });
  (config.model as Record<string, unknown>).rpm = extra.rpm ?? 6000;
  if (extra.budget) config.budget = extra.budget;
  const handle = await client.workflow.start(experimentWorkflow, { taskQueue: queue, workflowId: `rolyplay-${name}`, args: [{ config }] });
  return { name, base, handle };
}

const paused = (h: WorkflowHandle) => waitFor(async () => {
  const p = await h.query(progressQuery).catch(() => undefined);
  return p?.phase === 'paused' ? p : undefined;
}, 60_000, 'the run to pause');

/** Scoring requests of the current test (each test resets the fake; the preflight 'ping' is not gated). */
const scoredCalls = (_name: string) => fake.calls.filter((c) => c.key !== 'ping');

/** Every cell exactly once in the store, and the result's count. */
async function expectExact(base: string, name: string, cells: number): Promise<void> {
  const rows = await storedCells(base, name);
  expect(rows).toHaveLength(CELLS);
  expect(new Set(rows.map((r) => `${r.persona}|${r.item}|${r.sample}`)).size).toBe(CELLS);
  expect(cells).toBe(CELLS);
}

describe('run control', () => {
  it('a request budget reached mid-run pauses the run (status shows it); a resume with a raised budget finishes with exact counts', async () => {
    fake.reset();
    const BUDGET = 30;
    const { name, base, handle } = await start({ budget: { requests: BUDGET } });
    const t0 = Date.now();
    const p = await paused(handle);
    const pausedAfter = (Date.now() - t0) / 1000;
    expect(p.reason).toContain(`budget of ${BUDGET} requests is used`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    // The budget holds exactly across both workers: no request beyond it reached the server.
    const atPause = scoredCalls(name).length;
    expect(atPause).toBeLessThanOrEqual(BUDGET);
    expect(atPause).toBeGreaterThan(0);
    const stored = (await storedCells(base, name)).length;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(CELLS);
    await new Promise((r) => setTimeout(r, 1500));
    expect(scoredCalls(name).length).toBe(atPause);

    const status = await rolyplay('status', name, '--output', base);
    expect(status).toContain('phase paused');
    expect(status).toContain(`paused: run ${name} paused: the budget of ${BUDGET} requests is used`);
    expect(status).toMatch(new RegExp(`usage: ${atPause} requests`));

    const resumed = await rolyplay('resume', name, '--output', base, '--budget-requests', '1000');
    expect(resumed).toContain(`run ${name}: running; budget requests=1000`);
    const result = await handle.result();
    await expectExact(base, name, result.cells);
    // The usage in metrics.json is what the server saw, per persona.
    await ensureRunFiles(base, name);
    const metrics = JSON.parse(readFileSync(join(base, name, 'metrics.json'), 'utf8')) as { usage: { total: { requests: number; prompt_tokens: number; cost_usd: number }; personas: Record<string, { requests: number }> } };
    const total = scoredCalls(name).length;
    expect(metrics.usage.total.requests).toBe(total);
    expect(Object.values(metrics.usage.personas).reduce((a, u) => a + u.requests, 0)).toBe(total);
    expect(Object.keys(metrics.usage.personas).sort()).toEqual(['abstract algebra expert', 'anatomy expert', 'none', 'poet'].sort());
    expect(metrics.usage.total.prompt_tokens).toBeGreaterThan(0);
    expect(metrics.usage.total.cost_usd).toBeGreaterThan(0);
    console.info(`budget: paused after ${pausedAfter.toFixed(1)} s with ${atPause}/${BUDGET} requests sent and ${stored}/${CELLS} cells stored; resumed to ${result.cells} cells, ${total} requests in all`);
  });

  it('insufficient_quota from the server pauses the run instead of failing it; a resume after the fix finishes', async () => {
    fake.reset();
    let quota = true;
    fake.setFaults((i) => (quota && i >= 12 ? { kind: '429', code: 'insufficient_quota' } : undefined));
    const { name, base, handle } = await start({});
    const p = await paused(handle);
    expect(p.reason).toContain('insufficient_quota');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    quota = false;
    fake.setFaults(undefined);
    expect(await rolyplay('resume', name, '--output', base)).toContain('running');
    const result = await handle.result();
    await expectExact(base, name, result.cells);
  });

  it('pause, throttle and resume a running run from the CLI: no request while paused, the new rate after resume', async () => {
    fake.reset();
    // One question (4 requests) per batch: a pause lets the batches in flight finish, and those are short.
    const { name, base, handle } = await start({ rpm: 240, execution: { questions_per_batch: 1 } });
    await waitFor(async () => scoredCalls(name).length >= 6, 30_000, 'the first requests');
    const out = await rolyplay('pause', name, '--output', base, '--reason', 'lunch');
    expect(out).toContain(`run ${name}: paused (lunch)`);
    expect((await paused(handle)).reason).toBe('lunch');
    // The batches in flight (at most 4 × 4 requests) finish; then nothing is sent.
    const pausedAt = Date.now();
    let last = -1;
    let since = Date.now();
    await waitFor(async () => {
      const n = scoredCalls(name).length;
      if (n !== last) [last, since] = [n, Date.now()];
      return Date.now() - since >= 2000;
    }, 20_000, 'requests to stop');
    const quiet = scoredCalls(name).length;
    const drained = scoredCalls(name).filter((c) => c.time >= pausedAt).length;
    expect(drained).toBeLessThanOrEqual(16);
    await new Promise((r) => setTimeout(r, 1500));
    expect(scoredCalls(name).length).toBe(quiet);
    expect(quiet).toBeLessThan(CELLS);
    console.info(`pause: ${drained} requests of batches in flight after the pause, then none for ${((Date.now() - since) / 1000).toFixed(1)} s`);

    const throttled = await rolyplay('throttle', name, '--output', base, '--rpm', '120', '--batches', '1');
    expect(throttled).toContain('rate rpm=120');
    expect(throttled).toContain('batches in flight 1');
    await expect(rolyplay('throttle', name, '--output', base)).rejects.toThrow(/nothing to change/);
    const resumedAt = Date.now();
    expect(await rolyplay('resume', name, '--output', base)).toContain('running');
    const result = await handle.result();
    await expectExact(base, name, result.cells);
    const after = scoredCalls(name).filter((c) => c.time >= resumedAt);
    const peak = peakInWindow(after, 5000);
    // 120 rpm = 2/s: 10 per 5 s, + the bucket's 1 s burst (2) and one lease per worker (2).
    console.info(`throttle: ${after.length} requests after resume at 120 rpm; peak ${peak.count} in 5 s (limit 10 + 4)`);
    expect(after.length).toBeGreaterThan(5);
    expect(peak.count).toBeLessThanOrEqual(14);
  });
});

describePostgres('run control on PostgreSQL', () => {
  it('a request budget reached mid-run pauses workers on one database (status shows it); a resume with a raised budget finishes with every cell once', async () => {
    fake.reset();
    const url = postgresUrl();
    const queue = `pause-pg-${randomUUID()}`;
    const pgFleet = startFleet({ n: 2, taskQueue: queue, address: address(), store: url });
    const stores = await PostgresStores.open(url);
    const env = { ROLYPLAY_STORE: url };
    try {
      const store = await stores.forRun();
      const BUDGET = 30;
      const { name, base, handle } = await start({ budget: { requests: BUDGET }, taskQueue: queue });
      const p = await paused(handle);
      expect(p.reason).toContain(`budget of ${BUDGET} requests is used`);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      // The usage row in the database held the budget for both workers: nothing beyond it reached the server.
      const atPause = scoredCalls(name).length;
      expect(atPause).toBeLessThanOrEqual(BUDGET);
      expect(atPause).toBeGreaterThan(0);
      const stored = (await store.countCells(name, 'mmlu')).cells;
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(CELLS);
      await new Promise((r) => setTimeout(r, 1500));
      expect(scoredCalls(name).length).toBe(atPause);

      // The CLI reads the stored counts and the usage from the database the workers use.
      const status = await rolyplayIn(env, 'status', name, '--output', base);
      expect(status).toContain(`in ${store.label}`);
      expect(status).toContain(`cells stored: ${stored} / ${CELLS}`);
      expect(status).toContain('phase paused');
      expect(status).toContain(`paused: run ${name} paused: the budget of ${BUDGET} requests is used`);
      expect(status).toMatch(new RegExp(`usage: ${atPause} requests`));

      expect(await rolyplayIn(env, 'resume', name, '--output', base, '--budget-requests', '1000')).toContain(`run ${name}: running; budget requests=1000`);
      const result = await handle.result();
      expect(result.cells).toBe(CELLS);
      const rows: string[] = [];
      for await (const c of store.streamCells(name)) rows.push(`${c.persona}|${c.item}|${c.sample}`);
      expect(rows).toHaveLength(CELLS);
      expect(new Set(rows).size).toBe(CELLS);
      // Batches ran on both processes, and the usage in the database is what the server saw.
      const identities = new Set<string>();
      for (let k = 0; ; k++) {
        const h = await client.workflow.getHandle(`rolyplay-${name}/shard-${k}`).fetchHistory().catch(() => undefined);
        if (!h) break;
        for (const e of h.events ?? []) if (e.activityTaskStartedEventAttributes?.identity) identities.add(e.activityTaskStartedEventAttributes.identity);
      }
      expect(identities.size).toBe(2);
      const metrics = JSON.parse(await rolyplayIn(env, 'results', name, '--output', tmpDir(), '--format', 'json')) as { usage: { total: { requests: number } } };
      expect(metrics.usage.total.requests).toBe(scoredCalls(name).length);
      console.info(`budget on PostgreSQL: paused with ${atPause}/${BUDGET} requests sent and ${stored}/${CELLS} cells stored; resumed to ${result.cells} cells, ${scoredCalls(name).length} requests in all`);
    } finally {
      await pgFleet.kill();
      await stores.close();
    }
  });
});
