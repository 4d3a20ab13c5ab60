/**
 * Run control across continue-as-new (issue 11), with a lowered threshold (limit.historyCount.suggestContinueAsNew)
 * so the experiment workflow and its shards continue often: a throttle set before a continue stays after it (in the
 * new runs of the shard and of the experiment, and in shards the new experiment run starts), a pause holds a shard
 * that Temporal asks to continue, and a shard stopped by a used budget runs again after the experiment continued
 * between the pause and the resume. The run still ends with every cell exactly once.
 */
import { expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { experimentWorkflow, pauseUpdate, progressQuery, resumeUpdate, setConcurrencyUpdate, setRateUpdate } from '../workflows/index.js';
import { controlQuery, type ControlState } from '../workflows/control.js';
import { continueAsNewEnv, mmluConfig, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';
import { waitFor } from './support/fleet.js';

type History = temporal.api.history.v1.IHistory;
const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
const CELLS = questions.length * 4;
const env = continueAsNewEnv(mmluPolicy(questions), { latencyMs: 60 });

/** Every run of a workflow id, oldest first, with its status and history. */
async function runsOf(workflowId: string): Promise<{ runId: string; status: string; history: History }[]> {
  const out: { runId: string; status: string; start: number; history: History }[] = [];
  for await (const w of env.h.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    out.push({ runId: w.runId, status: w.status.name, start: w.startTime.getTime(), history: await env.h.client.workflow.getHandle(workflowId, w.runId).fetchHistory() });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Most batches (activities) a history had open at once. */
function maxOpenActivities(history: History): number {
  let open = 0;
  let max = 0;
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) max = Math.max(max, ++open);
    if (e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes || e.activityTaskCanceledEventAttributes) open--;
  }
  return max;
}

/** The control state a run was started with (shard input `control`, experiment input `state.control`). */
function startControl(history: History): ControlState | undefined {
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const input = JSON.parse(Buffer.from(payload as Uint8Array).toString()) as { control?: ControlState; state?: { control?: ControlState } };
  return input.control ?? input.state?.control;
}

it('keeps a throttle, a pause and the shards to retry across continue-as-new of the experiment and its shards', async () => {
  const outDir = tmpDir();
  const workflowId = `ctl-can-${randomUUID()}`;
  const shard = (i: number) => `${workflowId}/shard-${i}`;
  const config = mmluConfig({
    baseURL: env.fake.baseURL,
    taskQueue: env.h.taskQueue,
    outDir,
    name: 'ctl-can',
    // 16 batches of 4 requests, 8 per shard, one shard at a time: shard 0 takes 32 requests, the budget stops shard 1.
    execution: { questions_per_batch: 1, batches_per_shard: 8, shards_in_flight: 1, batches_in_flight: 2 },
  });
  config.budget = { requests: 40 };
  env.fake.reset();
  const scored = () => env.fake.calls.filter((c) => c.key !== 'ping').length;
  const handle = await env.h.client.workflow.start(experimentWorkflow, { taskQueue: env.h.taskQueue, workflowId, args: [{ config }] });

  // Throttle early in shard 0: one batch at a time, a new rate.
  await waitFor(async () => scored() >= 1, 30_000, 'the first request');
  await handle.executeUpdate(setConcurrencyUpdate, { args: [{ batches: 1 }] });
  await handle.executeUpdate(setRateUpdate, { args: [{ rpm: 30000 }] });
  // Shard 0 continues as new (its history passes 30 events) with the throttle in its input.
  await waitFor(async () => ((await runsOf(shard(0))).some((r) => r.status === 'CONTINUED_AS_NEW') ? true : undefined), 60_000, 'shard 0 to continue as new');

  // A pause holds the shard even though Temporal asks it to continue: no request for a while.
  await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'can test' }] });
  await waitFor(async () => ((await handle.query(progressQuery)).phase === 'paused' ? true : undefined), 10_000, 'the pause');
  await new Promise((r) => setTimeout(r, 1000)); // the batch in flight finishes
  const quiet = scored();
  await new Promise((r) => setTimeout(r, 2000));
  expect(scored()).toBe(quiet);
  expect(quiet).toBeLessThan(32);
  expect(await handle.query(controlQuery)).toMatchObject({ paused: true, pausedBy: 'user', batchesInFlight: 1, rate: { rpm: 30000, version: 1 } });
  await handle.executeUpdate(resumeUpdate, { args: [{}] });

  // The budget stops shard 1 (in an experiment run that continued after shard 0, if the history asked for it).
  const byBudget = await waitFor(async () => {
    const c = await handle.query(controlQuery);
    return c.pausedBy === 'BudgetExhausted' ? c : undefined;
  }, 60_000, 'the budget to pause the run');
  expect(byBudget.retryShards).toEqual([1]);
  expect(byBudget).toMatchObject({ batchesInFlight: 1, rate: { rpm: 30000 } });
  // Updates while paused grow the experiment's history past the threshold: it continues as new on resume, before
  // it runs shard 1 again, so the shard to retry must travel in the continued run's input.
  for (let k = 0; k < 8; k++) await handle.executeUpdate(setConcurrencyUpdate, { args: [{ batches: 1 }] });
  await handle.executeUpdate(resumeUpdate, { args: [{ budget: { requests: 1000 } }] });
  const result = await handle.result();

  expect(result.cells).toBe(CELLS);
  const rows = await storedCells(outDir, 'ctl-can');
  expect(rows).toHaveLength(CELLS);
  expect(new Set(rows.map((r) => `${r.persona}|${r.item}|${r.sample}`)).size).toBe(CELLS);

  // The experiment: the run that saw shard 1 fail is not the one that started it again; that one began with the retry.
  const parents = await runsOf(workflowId);
  const failedIn = parents.findIndex((r) => r.history.events?.some((e) => e.childWorkflowExecutionFailedEventAttributes));
  const shard1Starts = parents.flatMap((r, i) => (r.history.events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === shard(1)).map(() => i));
  expect(failedIn).toBeGreaterThanOrEqual(0);
  expect(shard1Starts).toHaveLength(2);
  expect(shard1Starts[1]).toBeGreaterThan(failedIn);
  expect(startControl(parents[failedIn + 1]?.history as History)).toMatchObject({ retryShards: [1], batchesInFlight: 1, rate: { rpm: 30000 }, budget: { requests: 1000 } });
  // The progress of the last run counts shard 1 once (it was a shard to retry, not a finished one, when continued).
  expect(await env.h.client.workflow.getHandle(workflowId).query(progressQuery)).toMatchObject({ done: CELLS, total: CELLS, shardsDone: 2, shards: 2, phase: 'done' });
  expect((await env.h.client.workflow.getHandle(workflowId).query(controlQuery))).toMatchObject({ paused: false, batchesInFlight: 1, rate: { rpm: 30000, version: 1 }, budget: { requests: 1000 } });

  // Shard 0: each continued run began with the throttle and kept to one batch at a time.
  const s0 = await runsOf(shard(0));
  expect(s0.length).toBeGreaterThanOrEqual(2);
  for (const r of s0.slice(1)) {
    expect(startControl(r.history)).toMatchObject({ batchesInFlight: 1, rate: { rpm: 30000 } });
    expect(maxOpenActivities(r.history)).toBe(1);
  }
  // Shard 1 (started after the throttle, twice): never more than one batch at a time.
  const s1 = await runsOf(shard(1));
  expect(s1.map((r) => r.status)).toContain('FAILED');
  expect(s1.at(-1)?.status).toBe('COMPLETED');
  for (const r of s1) expect(maxOpenActivities(r.history)).toBe(1);
  console.info(`continue-as-new: experiment ${parents.length} runs (shard 1 failed in run ${failedIn + 1}, retried in run ${(shard1Starts[1] ?? 0) + 1}), shard 0 ${s0.length} runs, shard 1 ${s1.length} runs; ${scored()} requests for ${CELLS} cells`);
});
