/**
 * Continue-as-new with a lowered threshold (limit.historyCount.suggestContinueAsNew): the parent and the shard
 * children drain their in-flight work and continue; the results are still exact.
 */
import { expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { experimentWorkflow } from '../workflows/index.js';
import { continueAsNewEnv, mmluConfig, tmpDir } from './support/harness.js';
import { expectedCorrect, mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
const env = continueAsNewEnv(mmluPolicy(questions));

it('continues as new in parent and children when suggested, without losing or repeating cells', async () => {
  const outDir = tmpDir();
  const workflowId = `can-${randomUUID()}`;
  const handle = await env.h.client.workflow.start(experimentWorkflow, {
    taskQueue: env.h.taskQueue,
    workflowId,
    args: [
      {
        config: mmluConfig({
          baseURL: env.fake.baseURL,
          taskQueue: env.h.taskQueue,
          outDir,
          name: 'can',
          execution: { questions_per_batch: 1, batches_per_shard: 8, shards_in_flight: 1, batches_in_flight: 1 },
        }),
      },
    ],
  });
  const result = await handle.result();
  expect(result.cells).toBe(64);
  expect(await storedCells(outDir, 'can')).toHaveLength(64);
  for (const persona of ['abstract algebra expert', 'anatomy expert', 'poet', 'none']) {
    const exp = expectedCorrect(questions, persona, 'logits');
    expect(result.personas.find((p) => p.persona === persona)).toMatchObject({ n: exp.n, correct: exp.correct });
  }
  const first = await env.h.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
  expect(first.status.name).toBe('CONTINUED_AS_NEW');
  const shardRuns: string[] = [];
  for await (const w of env.h.client.workflow.list({ query: `WorkflowId = '${workflowId}/shard-0'` })) shardRuns.push(w.status.name);
  expect(shardRuns).toContain('CONTINUED_AS_NEW');
});
