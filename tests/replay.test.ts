/**
 * (g) Replay: the current workflow code must replay saved histories of the experiment and shard workflows
 * without non-determinism errors. The saved histories are committed (tests/fixtures/histories) and kept: runs
 * started by older code may still be in flight on a user's server. A workflow change must replay all of them (use
 * `patched`), and `UPDATE_HISTORIES=<name>` records the current code's histories as <name>-experiment/-shard.json
 * (and, from v4 on, <name>-shard-retried.json): from v4 on a run with run control in it (issue 11), a superset of a
 * plain run: planning, shards, batches and the reduce, plus a user's pause, a throttle (setConcurrency, setRate) while
 * paused, a resume, a request budget that pauses the run (a shard fails with BudgetExhausted) and a resume with a
 * raised budget that runs that shard again.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { temporal } from '@temporalio/proto';
import { experimentWorkflow, pauseUpdate, progressQuery, resumeUpdate, setConcurrencyUpdate, setRateUpdate } from '../workflows/index.js';
import { controlQuery } from '../workflows/control.js';
import { waitFor } from './support/fleet.js';
import { workflowBundle } from '../workers/index.js';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { fakeServerAndWorker, mmluConfig, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';

const DIR = join(PACKAGE_ROOT, 'tests', 'fixtures', 'histories');
const env = fakeServerAndWorker(mmluPolicy(readQuestions('anatomy', 4)));

interface Saved {
  workflowId: string;
  history: unknown;
}

async function record(): Promise<{ parent: Saved; shard: Saved }> {
  const workflowId = `replay-${randomUUID()}`;
  const handle = await env.h.client.workflow.start(experimentWorkflow, {
    taskQueue: env.h.taskQueue,
    workflowId,
    args: [{ config: mmluConfig({ baseURL: env.fake.baseURL, taskQueue: env.h.taskQueue, outDir: tmpDir(), name: 'replay', subjects: ['anatomy'], limit: 4 }) }],
  });
  await handle.result();
  const parent = { workflowId, history: await handle.fetchHistory() };
  const shardId = `${workflowId}/shard-0`;
  const shard = { workflowId: shardId, history: await env.h.client.workflow.getHandle(shardId).fetchHistory() };
  return { parent, shard };
}

type History = temporal.api.history.v1.IHistory;
const events = (s: Saved) => (s.history as History).events ?? [];
/** Names of the updates a history accepted, in order. */
const updatesOf = (s: Saved) => events(s).flatMap((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? []);
const signalsOf = (s: Saved, name: string) => events(s).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name).length;

/**
 * A run with run control in it (one shard and one batch at a time; 4 questions × 4 personas = 16 requests, 4 per
 * batch, 2 batches per shard): the user pauses while shard 0's first batch is at the server (slow answers), throttles
 * while paused (2 batches in flight, a new rpm), resumes; a budget of 10 requests then stops shard 1's first batch,
 * which pauses the run; a resume with a raised budget runs shard 1 again and the run finishes with every cell.
 */
async function recordControl(): Promise<{ parent: Saved; shard: Saved; retried: Saved }> {
  const workflowId = `replay-ctl-${randomUUID()}`;
  const outDir = tmpDir();
  const config = mmluConfig({
    baseURL: env.fake.baseURL,
    taskQueue: env.h.taskQueue,
    outDir,
    name: 'replay-ctl',
    subjects: ['anatomy'],
    limit: 4,
    execution: { questions_per_batch: 1, batches_per_shard: 2, shards_in_flight: 1, batches_in_flight: 1 },
  });
  config.budget = { requests: 10 };
  env.fake.reset();
  env.fake.setLatency(400);
  try {
    const handle = await env.h.client.workflow.start(experimentWorkflow, { taskQueue: env.h.taskQueue, workflowId, args: [{ config }] });
    const scored = () => env.fake.calls.filter((c) => c.key !== 'ping').length;
    await waitFor(async () => scored() >= 1, 30_000, "shard 0's first request");
    expect((await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'replay: user pause' }] })).pausedBy).toBe('user');
    // Shard 0 got the pause while its first batch ran (≤ 4 requests at the server), and starts no second batch.
    await waitFor(async () => ((await handle.query(progressQuery)).phase === 'paused' ? true : undefined), 10_000, 'the pause');
    await new Promise((r) => setTimeout(r, 1500));
    expect(scored()).toBeLessThanOrEqual(4);
    await handle.executeUpdate(setConcurrencyUpdate, { args: [{ batches: 2 }] });
    expect((await handle.executeUpdate(setRateUpdate, { args: [{ rpm: 30000 }] })).rate).toEqual({ rpm: 30000, version: 1 });
    env.fake.setLatency(0);
    expect((await handle.executeUpdate(resumeUpdate, { args: [{}] })).paused).toBe(false);
    // Shard 0's second batch (8 requests in all), then shard 1 reaches the budget of 10.
    const byBudget = await waitFor(async () => {
      const c = await handle.query(controlQuery);
      return c.pausedBy === 'BudgetExhausted' ? c : undefined;
    }, 30_000, 'the budget to pause the run');
    expect(byBudget.reason).toContain('budget of 10 requests is used');
    expect(byBudget.retryShards).toEqual([1]);
    expect(scored()).toBe(10);
    await handle.executeUpdate(resumeUpdate, { args: [{ budget: { requests: 1000 } }] });
    const result = await handle.result();
    expect(result.cells).toBe(16);
    const shardId = (i: number) => `${workflowId}/shard-${i}`;
    const parent = { workflowId, history: await handle.fetchHistory() };
    const shard = { workflowId: shardId(0), history: await env.h.client.workflow.getHandle(shardId(0)).fetchHistory() };
    const retried = { workflowId: shardId(1), history: await env.h.client.workflow.getHandle(shardId(1)).fetchHistory() };
    return { parent, shard, retried };
  } finally {
    env.fake.setLatency(undefined);
  }
}

/** Fails unless `s` (experiment), `shard` (shard 0) and `retried` (shard 1's second run) hold the control scenario. */
function expectControlScenario(parent: Saved, shard: Saved, retried: Saved): void {
  expect(updatesOf(parent)).toEqual(['pause', 'setConcurrency', 'setRate', 'resume', 'resume']);
  // Shard 1's first run failed with BudgetExhausted; the experiment started it again.
  const failed = events(parent).filter((e) => e.childWorkflowExecutionFailedEventAttributes);
  expect(failed).toHaveLength(1);
  expect(JSON.stringify(failed[0]?.childWorkflowExecutionFailedEventAttributes?.failure)).toContain('BudgetExhausted');
  expect(events(parent).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(3);
  // Shard 0 was told of the pause, the two throttles and the resume while it ran.
  expect(signalsOf(shard, 'control')).toBeGreaterThanOrEqual(4);
  // Shard 1's second run started with the raised budget and the rate in its input.
  const input = JSON.stringify(events(retried)[0]?.workflowExecutionStartedEventAttributes?.input);
  expect(Buffer.from(JSON.parse(input).payloads[0].data, 'base64').toString()).toMatch(/"requests":1000.*"rpm":30000|"rpm":30000.*"requests":1000/);
}

describe('workflow replay', () => {
  it('replays a fresh history of both workflow types', async () => {
    const { parent, shard } = await record();
    const bundle = await workflowBundle();
    for (const { workflowId, history } of [parent, shard]) {
      await Worker.runReplayHistory({ workflowBundle: bundle }, history as never, workflowId);
    }
  });

  it('replays a fresh history with run control in it (pause, throttle, resume, budget pause, resume with a raised budget)', async () => {
    const { parent, shard, retried } = await recordControl();
    expectControlScenario(parent, shard, retried);
    const bundle = await workflowBundle();
    for (const { workflowId, history } of [parent, shard, retried]) {
      await Worker.runReplayHistory({ workflowBundle: bundle }, history as never, workflowId);
    }
    if (process.env.UPDATE_HISTORIES) {
      // The format of `temporal workflow show --output json`, wrapped with the workflow id replay needs.
      const toJson = (s: Saved) => `{"workflowId": ${JSON.stringify(s.workflowId)},\n"history": ${historyToJSON(s.history as never)}}\n`;
      writeFileSync(join(DIR, `${process.env.UPDATE_HISTORIES}-experiment.json`), toJson(parent));
      writeFileSync(join(DIR, `${process.env.UPDATE_HISTORIES}-shard.json`), toJson(shard));
      writeFileSync(join(DIR, `${process.env.UPDATE_HISTORIES}-shard-retried.json`), toJson(retried));
    }
  });

  it('replays the committed histories', async () => {
    const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];
    expect(files).toEqual(expect.arrayContaining(['v1-experiment.json', 'v1-shard.json', 'v2-experiment.json', 'v2-shard.json', 'v3-experiment.json', 'v3-shard.json', 'v4-experiment.json', 'v4-shard.json', 'v4-shard-retried.json']));
    // v4 holds the run-control scenario (a re-recording that lost it would make this test weaker without failing).
    const saved = (f: string) => {
      const j = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Saved;
      return { workflowId: j.workflowId, history: historyFromJSON(j.history) };
    };
    expectControlScenario(saved('v4-experiment.json'), saved('v4-shard.json'), saved('v4-shard-retried.json'));
    const bundle = await workflowBundle();
    for (const f of files) {
      const saved = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Saved;
      await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(saved.history), saved.workflowId);
    }
  });
});
