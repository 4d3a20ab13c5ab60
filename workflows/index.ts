/**
 * Durable orchestration of an experiment. Deterministic and small: planning, scoring and reducing are
 * activities; this file only fans work out, tracks progress and carries state across continue-as-new.
 *
 *   experimentWorkflow ── plan ──> stage 0's shards ──> [plan stage k ──> its shards]… ── reduce
 *        shardWorkflow ── batches of one stage (activities, bounded window), progress signalled to the parent
 *
 * A task has ordered stages; stage k+1 is planned (an activity) once stage k's shards have all completed.
 * Single-stage runs, including every run started before stages existed, issue exactly the commands they did.
 */
import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  ParentClosePolicy,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type {
  ExperimentInput,
  ExperimentPlan,
  ExperimentResult,
  ProgressUpdate,
  ShardInput,
  ShardResult,
  StagePlan,
} from './types.js';
import { DONE, EXPERIMENT, MODEL, TASK, TOTAL } from './searchAttributes.js';
import { RunControl, pauseTypeOf } from './control.js';

export { pauseUpdate, resumeUpdate, setConcurrencyUpdate, setRateUpdate, controlQuery } from './control.js';

export const progressSignal = defineSignal<[ProgressUpdate]>('progress');
export interface Progress {
  run: string;
  done: number;
  total: number;
  discarded: number;
  /** Of the current stage. */
  shardsDone: number;
  shards: number;
  phase: 'planning' | 'scoring' | 'paused' | 'reducing' | 'done';
  /** Why the run is paused (run control). */
  reason?: string;
  /** The current stage's name, and every stage's cells (total null: not planned yet). */
  stage: string;
  stages: StageProgress[];
}
export interface StageProgress {
  name: string;
  done: number;
  total: number | null;
}
export const progressQuery = defineQuery<Progress>('progress');

const NON_RETRYABLE = ['InvalidInput', 'BackendRejected'];
/** How often a shard tells the parent its progress (live progress in the UI and the CLI's bar). */
const PROGRESS_EVERY_MS = 3000;

const { planExperiment } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE },
});
/**
 * Planning checks the backend (preflight): a wrong port or a server that is down must fail the run with the
 * address, not retry for ever. A few attempts (~15 s: 1+2+4+8) ride out a server that is still starting.
 */
export const PLAN_MAX_ATTEMPTS = 5;
const { planExperiment: planExperimentBounded } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '8s', maximumAttempts: PLAN_MAX_ATTEMPTS, nonRetryableErrorTypes: NON_RETRYABLE },
});

const { planStage } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE },
});

const { reduceExperiment } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE },
});

export async function experimentWorkflow(input: ExperimentInput): Promise<ExperimentResult> {
  const info = workflowInfo();
  let phase: Progress['phase'] = input.state ? 'scoring' : 'planning';
  const live = new Map<number, number>(); // shard → cells done so far (running shards of the current stage)
  let plan: ExperimentPlan | undefined = input.state?.plan;
  let stage = input.state?.stage ?? 0;
  let stagePlan: StagePlan | undefined = input.state?.stagePlan;
  let nextShard = input.state?.nextShard ?? 0;
  let doneCells = input.state?.doneCells ?? 0;
  let discarded = input.state?.discarded ?? 0;
  // Per stage: cells planned and done by completed shards. States from before stages: one stage, done = doneCells.
  const stageCells = input.state ? (input.state.stageCells ?? [{ total: input.state.plan.totalCells, done: doneCells }]) : [];
  const stageNames = (): string[] => plan?.stages ?? ['score'];
  const shardsOf = (): ExperimentPlan['shards'] => (stage === 0 ? (plan?.shards ?? []) : (stagePlan?.shards ?? []));
  const liveCells = () => [...live.values()].reduce((a, b) => a + b, 0);
  // Run control (pause/resume/throttle, budgets): workflows/control.ts.
  const ctl = new RunControl(input.state?.control, () => showProgress());
  // Shards below the cursor have finished, but for those a pause stopped, which run again (and count then).
  let shardsDone = nextShard - (input.state?.control?.retryShards?.length ?? 0);
  ctl.installParent();
  const progress = (): Progress => ({
    run: plan?.run ?? '',
    done: doneCells + liveCells(),
    total: stageCells.reduce((a, c) => a + c.total, 0),
    discarded,
    shardsDone,
    shards: shardsOf().length,
    phase: ctl.paused && phase === 'scoring' ? 'paused' : phase,
    ...(ctl.paused && ctl.state.reason ? { reason: ctl.state.reason } : {}),
    stage: stageNames()[stage] ?? '',
    stages: stageNames().map((name, i) => ({
      name,
      done: (stageCells[i]?.done ?? 0) + (i === stage ? liveCells() : 0),
      total: stageCells[i]?.total ?? null,
    })),
  });
  setHandler(progressQuery, progress);
  setHandler(progressSignal, ({ stage: from = 0, shard, cells }) => {
    if (from === stage && live.has(shard)) live.set(shard, Math.max(live.get(shard) ?? 0, cells));
    showProgress();
  });

  let lastUpserted = -1;
  const showProgress = (force = false) => {
    if (!plan) return;
    const p = progress();
    const stages = p.stages.length > 1
      ? `\n\n${p.stages.map((st, i) => `${i === stage && p.phase === 'scoring' ? '**' : ''}${i + 1}. ${st.name}: ${st.done} / ${st.total ?? '?'}${i === stage && p.phase === 'scoring' ? '**' : ''}`).join(' · ')}`
      : '';
    setCurrentDetails(
      `**${p.run}** · ${plan.task} · ${plan.model}\n\n${p.done} / ${p.total} cells (${pct(p.done, p.total)}), ` +
        `${p.discarded} discarded, shards ${p.shardsDone}/${p.shards} · phase: ${p.phase}${stages}` +
        (p.reason ? `\n\n**Paused:** ${p.reason}. Resume: \`rolyplay resume ${p.run}\`` : ''),
    );
    // Each upsert is a history event: only on shard completion or every ~5 % of progress.
    if (force || p.done - lastUpserted >= Math.max(1, Math.ceil(p.total / 20))) {
      upsertSearchAttributes([{ key: DONE, value: p.done }]);
      lastUpserted = p.done;
    }
  };

  if (!plan) {
    // Runs started before planning was bounded keep their unbounded retry (`patched` keeps their histories replayable).
    const plan_ = patched('bounded-planning') ? planExperimentBounded : planExperiment;
    plan = await plan_({ config: input.config, overrides: input.overrides ?? [], baseDir: input.baseDir });
    upsertSearchAttributes([
      { key: EXPERIMENT, value: plan.run },
      { key: TASK, value: plan.task },
      { key: MODEL, value: plan.model },
      { key: TOTAL, value: plan.totalCells },
      { key: DONE, value: 0 },
    ]);
    phase = 'scoring';
    stageCells.push({ total: plan.totalCells, done: 0 });
  }
  const thePlan = plan;
  if (thePlan.budget && !ctl.state.budget) ctl.state.budget = thePlan.budget;
  showProgress(true);

  let failure: unknown;
  for (;;) {
    // A later stage is planned once every batch of the one before is stored (its plan may depend on them).
    if (stage > 0 && !stagePlan) {
      const cellsBefore = stageCells.slice(0, stage).reduce((a, c) => a + c.total, 0);
      stagePlan = await planStage({ run: thePlan.run, specHash: thePlan.specHash, ...storeRef(thePlan), stage, cellsBefore });
      stageCells[stage] = { total: stagePlan.cells, done: 0 };
      upsertSearchAttributes([{ key: TOTAL, value: progress().total }]);
      showProgress(true);
    }
    await runShards();
    if (failure !== undefined || stage + 1 >= stageNames().length) break;
    stage++;
    nextShard = 0;
    shardsDone = 0;
    stagePlan = undefined;
    // Between stages nothing runs: a suggested continue-as-new loses nothing here (the new run plans the stage).
    if (workflowInfo().continueAsNewSuggested) await continueAsNewHere();
  }

  /** Run the current stage's shards from `nextShard` (child workflows, at most shardsInFlight at once; run control). */
  async function runShards(): Promise<void> {
    const shards = shardsOf();
    const running = new Map<number, Promise<ShardResult>>();
    while ((nextShard < shards.length || running.size > 0 || ctl.hasRetries) && failure === undefined) {
      // When Temporal suggests continue-as-new, start nothing more: drain the children, then continue. Paused: likewise.
      while (running.size < ctl.shards(thePlan.shardsInFlight) && (nextShard < shards.length || ctl.hasRetries) && !ctl.paused && !workflowInfo().continueAsNewSuggested) {
        const retry = ctl.takeRetry();
        const shard = shards[retry ?? nextShard] as ExperimentPlan['shards'][number];
        if (retry === undefined) nextShard++;
        live.set(shard.index, 0);
        const child = await startChild(shardWorkflow, {
          // Stage 0 keeps the ids of runs started before stages.
          workflowId: stage === 0 ? `${info.workflowId}/shard-${shard.index}` : `${info.workflowId}/stage-${stage}/shard-${shard.index}`,
          taskQueue: info.taskQueue,
          args: [
            {
              parentId: info.workflowId,
              plan: {
                run: thePlan.run,
                ...storeRef(thePlan),
                specHash: thePlan.specHash,
                taskQueue: thePlan.taskQueue,
                batchesInFlight: thePlan.batchesInFlight,
                heartbeatTimeoutMs: thePlan.heartbeatTimeoutMs,
                ...(stage > 0 ? { stage } : {}),
              },
              shard,
              ...(Object.keys(ctl.state).length > 1 ? { control: ctl.state } : {}),
            } satisfies ShardInput,
          ],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        ctl.started(child.workflowId);
        running.set(
          shard.index,
          child.result().then((r) => {
            ctl.finished(child.workflowId);
            running.delete(shard.index);
            live.delete(shard.index);
            doneCells += r.cells;
            (stageCells[stage] as { done: number }).done += r.cells;
            discarded += r.discarded;
            shardsDone++;
            showProgress(true);
            return r;
          }, (err) => {
            ctl.finished(child.workflowId);
            running.delete(shard.index);
            // A used budget or quota pauses the run: the shard runs again on resume (it skips what is stored).
            const pause = pauseTypeOf(err);
            if (pause) {
              live.delete(shard.index);
              ctl.pauseFor(pause, messageOf(err), shard.index);
              return { cells: 0, discarded: 0 };
            }
            failure ??= err;
            throw err;
          }),
        );
      }
      if (running.size === 0) {
        if (ctl.paused) {
          await ctl.whilePaused();
          continue;
        }
        // Nothing in flight: children finished, so continuing here loses nothing.
        if (workflowInfo().continueAsNewSuggested && (nextShard < shards.length || ctl.hasRetries)) await continueAsNewHere();
        continue;
      }
      await Promise.race([...running.values()]).catch(() => undefined);
    }
  }

  /** Continue as new between shards (none running): shards start in order, so `nextShard` is the whole cursor. */
  async function continueAsNewHere(): Promise<never> {
    return continueAsNew<typeof experimentWorkflow>({
      ...input,
      // Retried shards are in the control state.
      state: { plan: thePlan, nextShard, doneCells, discarded, stage, ...(stagePlan ? { stagePlan } : {}), stageCells, ...(Object.keys(ctl.state).length > 1 ? { control: ctl.state } : {}) },
    });
  }

  if (failure !== undefined) {
    phase = 'done';
    throw ApplicationFailure.nonRetryable(
      `experiment ${thePlan.run} stopped: ${messageOf(failure)}. Cells already scored are kept in ${thePlan.storeLabel ?? thePlan.storePath}; fix the cause and start the run again to resume.`,
      'ExperimentFailed',
    );
  }

  phase = 'reducing';
  showProgress(true);
  const result = await reduceExperiment({ run: thePlan.run, specHash: thePlan.specHash, ...storeRef(thePlan) });
  phase = 'done';
  doneCells = result.cells;
  showProgress(true);
  return result;
}

export async function shardWorkflow(input: ShardInput): Promise<ShardResult> {
  const { plan, shard } = input;
  const { runBatch } = proxyActivities<typeof activities>({
    taskQueue: plan.taskQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: plan.heartbeatTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE },
  });
  const parent = getExternalWorkflowHandle(input.parentId);
  const ctl = new RunControl(input.control, () => undefined);
  ctl.installShard();
  let next = input.nextBatch ?? 0;
  let cells = input.doneCells ?? 0;
  let discarded = input.discarded ?? 0;
  const running = new Map<number, Promise<void>>();
  const signals: Promise<void>[] = [];
  // Shards started before this change signalled after every batch; `patched` keeps their histories replayable.
  const throttleProgress = patched('throttled-progress-signals');
  let lastSignal = 0;
  let failure: unknown;

  while ((next < shard.batches.length || running.size > 0) && failure === undefined) {
    while (running.size < ctl.batches(plan.batchesInFlight) && next < shard.batches.length && !ctl.paused && !workflowInfo().continueAsNewSuggested) {
      const i = next++;
      const b = shard.batches[i] as ShardInput['shard']['batches'][number];
      running.set(
        i,
        runBatch({ run: plan.run, ...storeRef(plan), specHash: plan.specHash, ...(plan.stage ? { stage: plan.stage } : {}), group: b.group, start: b.start, end: b.end, ...ctl.batchInput() }).then(
          (r) => {
            running.delete(i);
            cells += r.cells;
            discarded += r.discarded;
            // At most one progress signal per PROGRESS_EVERY_MS: each costs the parent a workflow task, and the
            // shard's result reports the final count anyway. Date.now() is the task's time, so replay-safe. Not
            // awaited: the freed slot takes the next batch in this same workflow task; the parent keeps the
            // maximum per shard, so signals arriving out of order do no harm.
            if (!throttleProgress || Date.now() - lastSignal >= PROGRESS_EVERY_MS) {
              lastSignal = Date.now();
              signals.push(parent.signal(progressSignal, { ...(plan.stage ? { stage: plan.stage } : {}), shard: shard.index, cells }).catch(() => undefined));
            }
          },
          (err) => {
            running.delete(i);
            failure ??= err;
          },
        ),
      );
    }
    if (running.size === 0) {
      if (ctl.paused) {
        await ctl.whilePaused();
        continue;
      }
      if (workflowInfo().continueAsNewSuggested && next < shard.batches.length) {
        await Promise.all(signals);
        await continueAsNew<typeof shardWorkflow>({ ...input, nextBatch: next, doneCells: cells, discarded, ...(Object.keys(ctl.state).length > 1 ? { control: ctl.state } : {}) });
      }
      continue;
    }
    await Promise.race(running.values());
  }
  await Promise.all(signals);
  if (failure !== undefined) throw failure;
  return { cells, discarded };
}

/**
 * The run's folder, and for runs planned by older code their SQLite file. Taken from the plan (an activity result in
 * history), so a replay sends what the original sent; activity and child inputs are not compared on replay.
 */
function storeRef(plan: { outDir?: string; storePath?: string }): { outDir: string; storePath?: string } {
  return { outDir: plan.outDir ?? '', ...(plan.storePath !== undefined ? { storePath: plan.storePath } : {}) };
}

function pct(a: number, b: number): string {
  return b === 0 ? '0 %' : `${((100 * a) / b).toFixed(1)} %`;
}

function messageOf(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  // Child and activity failures nest the root cause: show the innermost message, which names the fix.
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
