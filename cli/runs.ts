/** Starting or attaching to an experiment run, and reading its state. */
import { WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { experimentWorkflow, progressQuery, type Progress } from '../workflows/index.js';
import type { ExperimentInput, ExperimentResult } from '../workflows/types.js';
import type { ExperimentSpec } from '../experiment/load.js';
import { DEFAULT_TASK_QUEUE, modelLabel } from '../experiment/load.js';
import { taskFor } from '../tasks/registry.js';
import { InputError } from '../experiment/errors.js';
import { sqlitePath, type ResultStore, type StoreResolver } from '../store/results.js';
import { existsSync } from 'node:fs';

export function workflowIdFor(run: string): string {
  return `rolyplay-${run}`;
}

/** Start the run, or attach to the one already running under the same deterministic id. */
export async function startOrAttach(
  client: Client,
  spec: ExperimentSpec,
  input: ExperimentInput,
  stores: StoreResolver,
  taskQueue = DEFAULT_TASK_QUEUE,
): Promise<{ handle: WorkflowHandle<typeof experimentWorkflow>; attached: boolean }> {
  const store = await existingStore(stores, spec);
  const rec = await store?.getRun(spec.run);
  if (rec && rec.specHash !== spec.specHash) {
    throw new InputError('name', `run ${spec.run} in ${store?.label} was started with a different config`, 'give this experiment another name (name=...) or delete that run');
  }
  const workflowId = workflowIdFor(spec.run);
  const attached = (await runStatus(client, workflowId)) === 'RUNNING';
  const handle = await client.workflow.start(experimentWorkflow, {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: taskFor(spec).summary(spec),
    staticDetails: [
      `**Run** ${spec.run}`,
      ...taskFor(spec).details(spec),
      `**Personas** ${spec.personas.length}: ${spec.personas.slice(0, 8).join(', ')}${spec.personas.length > 8 ? ', …' : ''}`,
      `**Model** ${modelLabel(spec)}`,
      `**Output** ${spec.outDir}`,
    ].join('\n\n'),
  });
  return { handle, attached };
}

/** The run's store if it exists (a SQLite file is not created just to look). */
export async function existingStore(stores: StoreResolver, run: { run: string; outDir: string }): Promise<ResultStore | undefined> {
  if (!stores.shared && !existsSync(sqlitePath(run.outDir))) return undefined;
  return stores.forRun(run);
}

/** Status name of the latest execution of a workflow id, or undefined if there is none. */
export async function runStatus(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export async function queryProgress(handle: WorkflowHandle): Promise<Progress | undefined> {
  try {
    return await handle.query(progressQuery);
  } catch {
    return undefined; // not started yet, or no worker to answer: the caller keeps polling
  }
}

export type { ExperimentResult };
