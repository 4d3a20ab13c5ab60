/** Starting or attaching to an experiment run, and reading its state. */
import { WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { experimentWorkflow, progressQuery, type Progress } from '../workflows/index.js';
import type { ExperimentInput, ExperimentResult } from '../workflows/types.js';
import type { ExperimentSpec } from '../experiment/load.js';
import { DEFAULT_TASK_QUEUE, modelLabel } from '../experiment/load.js';
import { taskFor } from '../experiment/tasks.js';
import { InputError } from '../experiment/errors.js';
import { sqlitePath, type ResultStore, type StoreResolver } from '../store/results.js';
import { existsSync } from 'node:fs';

export function workflowIdFor(run: string): string {
  return `rolyplay-${run}`;
}

/** Cells (MMLU) or games (bandit) of a run in its store; 0 when nothing is stored yet. */
export async function storedCount(stores: StoreResolver, run: { run: string; outDir: string }): Promise<number> {
  const store = await existingStore(stores, run);
  const rec = await store?.getRun(run.run);
  if (!store || !rec) return 0;
  const spec = rec.spec as ExperimentSpec;
  return (await taskFor(spec).stored(spec, store)).cells;
}

/** The run's store if it exists (a SQLite file is not created just to look). */
export async function existingStore(stores: StoreResolver, run: { run: string; outDir: string }): Promise<ResultStore | undefined> {
  if (!stores.shared && !existsSync(sqlitePath(run.outDir))) return undefined;
  return stores.forRun(run);
}

/**
 * Start the run, or attach to the one already running under the same deterministic id. A running workflow started
 * with another config (the memo's spec hash) is replaced if it has stored nothing (e.g. stuck on a wrong
 * base_url), and refused otherwise: a corrected config must not be swallowed by the stuck run.
 */
export async function startOrAttach(
  client: Client,
  spec: ExperimentSpec,
  input: ExperimentInput,
  stores: StoreResolver,
  taskQueue = DEFAULT_TASK_QUEUE,
  log: (m: string) => void = () => undefined,
): Promise<{ handle: WorkflowHandle<typeof experimentWorkflow>; attached: boolean }> {
  const stored = await storedCount(stores, spec);
  if (stored > 0) {
    const rec = await (await existingStore(stores, spec))?.getRun(spec.run);
    if (rec && rec.specHash !== spec.specHash) {
      throw new InputError('name', `run ${spec.run} in ${spec.outDir} was started with a different config and has ${stored} results stored`, 'run it with its original config to resume, or give this experiment another name (name=...), or delete that folder');
    }
  }
  const workflowId = workflowIdFor(spec.run);
  const current = await describeRun(client, workflowId);
  let attached = current?.status.name === 'RUNNING';
  const runningHash = current?.memo?.specHash;
  if (attached && typeof runningHash === 'string' && runningHash !== spec.specHash) {
    if (stored > 0) {
      throw new InputError('name', `run ${spec.run} is running with a different config and has ${stored} results stored`, `rerun it with its original config to follow it, or stop it (\`rolyplay stop ${spec.run}\`) and give this experiment another name (name=...)`);
    }
    await client.workflow.getHandle(workflowId).terminate('replaced: re-run with a changed config before anything was stored');
    log(`run ${spec.run} was running with a different config and had stored nothing: replaced it with this config`);
    attached = false;
  }
  const handle = await client.workflow.start(experimentWorkflow, {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    memo: { specHash: spec.specHash },
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

async function describeRun(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
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

/** The phase, with the current stage of a multi-stage run, e.g. "scoring · stage 2/3 embed 12/40". */
export function phaseLabel(p: Progress): string {
  const stages = p.stages ?? []; // absent: a workflow running older code
  if (p.phase !== 'scoring' || stages.length < 2) return p.phase;
  const i = Math.max(0, stages.findIndex((s) => s.name === p.stage));
  const s = stages[i]!;
  return `${p.phase} · stage ${i + 1}/${stages.length} ${s.name} ${s.done}/${s.total ?? '?'}`;
}
