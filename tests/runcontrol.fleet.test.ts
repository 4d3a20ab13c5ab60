/**
 * The fleet-wide rate limit (issue 11) with real processes: three `rolyplay worker` processes share one API key and
 * one store (the run folder's SQLite file; PostgreSQL) and run one experiment against the local OpenAI-protocol
 * server. Each process alone would send up to the configured rpm (its own limiter), so three would send 3×: the
 * server must see no more than the limit across all of them over any sliding window (+ the stated tolerance).
 */
import { describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { experimentWorkflow } from '../workflows/index.js';
import { peakInWindow, startFakeOpenAI } from './support/fakeOpenAI.js';
import { mmluConfig, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { describePostgres, postgresUrl } from './support/postgres.js';
import { startFleet } from './support/fleet.js';
import { BURST_S } from '../control/bucket.js';

const LIMIT = 12;
const questions = [...readQuestions('abstract_algebra', LIMIT), ...readQuestions('anatomy', LIMIT)];
const CELLS = questions.length * 4;
const RPM = 360; // 6 requests/s for the whole fleet
const WINDOW_MS = 5000;
const WORKERS = 3;
/**
 * Allowed above rpm × window: the bucket's burst (BURST_S of the rate, what a fleet may send after a quiet spell,
 * e.g. at the start) and one permit per worker leased just before the window and sent inside it.
 */
const BURST = Math.ceil((RPM / 60) * BURST_S);
const TOLERANCE = BURST + WORKERS;

async function fleetRun(store: string | undefined): Promise<void> {
  const address = inject('temporalAddress');
  const fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test', latencyMs: 40 });
  const taskQueue = `fleet-${randomUUID()}`;
  const name = `fleet-${randomUUID().slice(0, 8)}`;
  const fleet = startFleet({ n: WORKERS, taskQueue, address, store });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  try {
    const config = mmluConfig({ baseURL: fake.baseURL, taskQueue, outDir: tmpDir(), name, limit: LIMIT, execution: { shards_in_flight: 6, batches_in_flight: 2, heartbeat_s: 5 } });
    (config.model as Record<string, unknown>).rpm = RPM;
    (config.model as Record<string, unknown>).concurrency = 4;
    const handle = await client.workflow.start(experimentWorkflow, { taskQueue, workflowId: `rolyplay-${name}`, args: [{ config }] });
    const result = await handle.result();
    expect(result.cells).toBe(CELLS);

    const scored = fake.calls.filter((c) => c.key !== 'ping');
    expect(scored.length).toBeGreaterThanOrEqual(CELLS);
    const peak = peakInWindow(scored, WINDOW_MS);
    const allowed = (RPM / 60) * (WINDOW_MS / 1000);
    const span = ((scored.at(-1)?.time ?? 0) - (scored[0]?.time ?? 0)) / 1000;
    // Requests after the initial burst, over the run's span: the steady rate.
    const mean = (scored.length - 1 - BURST) / span;
    // Batches ran on several processes (activity worker identity is pid@host).
    const identities = new Set<string>();
    for (let s = 0; ; s++) {
      const h = await client.workflow.getHandle(`rolyplay-${name}/shard-${s}`).fetchHistory().catch(() => undefined);
      if (!h) break;
      for (const e of h.events ?? []) if (e.activityTaskStartedEventAttributes?.identity) identities.add(e.activityTaskStartedEventAttributes.identity);
    }
    console.info(
      `fleet (${store ? 'PostgreSQL' : 'SQLite'}): ${scored.length} requests from ${identities.size} worker processes in ${span.toFixed(1)} s; ` +
        `peak ${peak.count} in a ${WINDOW_MS / 1000} s window (limit ${allowed} + tolerance ${TOLERANCE}), steady mean ${mean.toFixed(2)}/s vs limit ${(RPM / 60).toFixed(2)}/s`,
    );
    expect(identities.size).toBeGreaterThanOrEqual(2);
    expect(peak.count).toBeLessThanOrEqual(allowed + TOLERANCE);
    expect(mean).toBeLessThanOrEqual((RPM / 60) * 1.05);
    // The limit, not something slower, is what paced the run (else this test could not fail on a leaky limit).
    expect(mean).toBeGreaterThanOrEqual((RPM / 60) * 0.6);
  } finally {
    await fleet.kill();
    await connection.close();
    await fake.close();
  }
}

describe('one rate limit per API key and model across worker processes', () => {
  it('three worker processes on one SQLite file stay within the limit together', async () => {
    await fleetRun(undefined);
  });
});

describePostgres('one rate limit across worker processes on PostgreSQL', () => {
  it('three worker processes on one database stay within the limit together', async () => {
    await fleetRun(postgresUrl());
  });
});
