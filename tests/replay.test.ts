/**
 * (g) Replay: the current workflow code must replay saved histories of the experiment and shard workflows
 * without non-determinism errors. The saved histories are committed (tests/fixtures/histories) and kept: runs
 * started by older code may still be in flight on a user's server. A workflow change must replay all of them (use
 * `patched`), and `UPDATE_HISTORIES=<name>` records the current code's histories as <name>-experiment/-shard.json.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { experimentWorkflow } from '../workflows/index.js';
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

describe('workflow replay', () => {
  it('replays a fresh history of both workflow types', async () => {
    const { parent, shard } = await record();
    const bundle = await workflowBundle();
    for (const { workflowId, history } of [parent, shard]) {
      await Worker.runReplayHistory({ workflowBundle: bundle }, history as never, workflowId);
    }
    if (process.env.UPDATE_HISTORIES) {
      // The format of `temporal workflow show --output json`, wrapped with the workflow id replay needs.
      const toJson = (s: Saved) => `{"workflowId": ${JSON.stringify(s.workflowId)},\n"history": ${historyToJSON(s.history as never)}}\n`;
      writeFileSync(join(DIR, `${process.env.UPDATE_HISTORIES}-experiment.json`), toJson(parent));
      writeFileSync(join(DIR, `${process.env.UPDATE_HISTORIES}-shard.json`), toJson(shard));
    }
  });

  it('replays the committed histories', async () => {
    const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];
    expect(files).toEqual(expect.arrayContaining(['v1-experiment.json', 'v1-shard.json', 'v2-experiment.json', 'v2-shard.json', 'v3-experiment.json', 'v3-shard.json']));
    const bundle = await workflowBundle();
    for (const f of files) {
      const saved = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Saved;
      await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(saved.history), saved.workflowId);
    }
  });
});
