/**
 * Activities: all I/O of an experiment (config files, data, model calls, the result store, report files).
 * Built by a factory so workers and tests pass their own backend registry (samples-typescript style).
 * Domain errors become Temporal failures here and nowhere else.
 */
import { activityInfo, heartbeat, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isAbsolute, resolve } from 'node:path';
import { setMaxListeners } from 'node:events';
import { BackendRegistry } from '../backends/registry.js';
import { BackendError, type Backend } from '../backends/types.js';
import { InputError } from '../experiment/errors.js';
import { EnvironmentError, fsEnvironmentError, makeDirs } from '../experiment/envErrors.js';
import { resolveConfigOnline, modelLabel, modelsOf, BUILTIN_CONFIGS, type ExperimentSpec } from '../experiment/load.js';
import { SqliteStores, type ResultStore, type StoreResolver } from '../store/results.js';
import { BatchFailure } from '../tasks/batch.js';
import { rolesOf, taskFor } from '../experiment/tasks.js';
import { writeRunReportOrError } from '../report/index.js';
import type { BatchRef, ExperimentPlan, ExperimentResult, RunRef, ShardPlan, StagePlan, StageRef } from '../workflows/types.js';
import type { PlannedBatch } from '../tasks/types.js';
import { RunControls } from './control.js';
import { RunPausedError, type RequestGate } from '../control/gate.js';

export interface ActivityDeps {
  backends: BackendRegistry;
  /** The result stores (the worker's environment chose them: `storesFromEnv`); default SQLite in each run folder. */
  stores?: StoreResolver;
  /** Where persona sets and templates are looked up by name. */
  configsDir?: string;
  /** How often a running batch heartbeats even between questions (a slow model must not look dead). */
  heartbeatEveryMs?: number;
}

export function createActivities(deps: ActivityDeps) {
  const stores = deps.stores ?? new SqliteStores();
  const legacy = new SqliteStores();
  /** A run's store: the legacy file its plan named, else the one the worker chose. */
  const storeOf = (ref: RunRef): Promise<ResultStore> =>
    ref.storePath ? Promise.resolve(legacy.file(ref.storePath)) : stores.forRun({ run: ref.run, outDir: ref.outDir });
  const specs = new Map<string, { spec: ExperimentSpec; totalCells: number }>();
  const controls = new RunControls(deps.configsDir ?? BUILTIN_CONFIGS);
  const runOf = async (ref: RunRef): Promise<{ spec: ExperimentSpec; totalCells: number; store: ResultStore }> => {
    const store = await storeOf(ref);
    const key = `${store.label}\u0000${ref.run}`;
    let got = specs.get(key);
    // Reduce inputs scheduled by older code name no specHash: their run is the one in the file.
    if (!got || (ref.specHash !== undefined && got.spec.specHash !== ref.specHash)) {
      const rec = await store.getRun(ref.run);
      if (!rec) throw new InputError('run', `run ${ref.run} is not planned in ${store.label}`, 'start the run through experimentWorkflow (and give every worker the same ROLYPLAY_STORE)');
      if (ref.specHash !== undefined && rec.specHash !== ref.specHash) {
        throw new InputError('run', `run ${ref.run} in ${store.label} was planned with another config`, 'give this experiment another name (config `name` or name=...)');
      }
      got = { spec: rec.spec as ExperimentSpec, totalCells: rec.totalCells };
      specs.set(key, got);
    }
    return { ...got, store };
  };

  return {
    /** Validate and resolve the config, check data and backend, record the run, split it into shards. */
    async planExperiment(input: { config: unknown; overrides: string[]; baseDir?: string }): Promise<ExperimentPlan> {
      let outDir: string | undefined;
      return asTemporalFailure(async () => {
        const baseDir = input.baseDir && isAbsolute(input.baseDir) ? input.baseDir : resolve(input.baseDir ?? process.cwd());
        const spec = await resolveConfigOnline(input.config, input.overrides, { baseDir, configsDir: deps.configsDir ?? BUILTIN_CONFIGS });
        // A usd budget needs the model's price: an unknown model fails here, before anything is spent.
        controls.price(spec, spec.budget);
        for (const model of Object.values(spec.models ?? { model: spec.model })) await deps.backends.preflight(model, spec.format);
        outDir = spec.outDir;
        // Fails on a path under /proc, where a recursive mkdir (the SQLite store's) would spin for ever.
        if (stores instanceof SqliteStores) makeDirs(spec.outDir);
        const store = await stores.forRun({ run: spec.run, outDir: spec.outDir });
        const existing = await store.getRun(spec.run);
        // A run that stored nothing (e.g. stuck on a wrong base_url) may be re-planned with a corrected config.
        const storedNothing = existing !== undefined && (await taskFor(existing.spec as ExperimentSpec).stored(existing.spec as ExperimentSpec, store)).cells === 0;
        if (existing && existing.specHash !== spec.specHash && !storedNothing) {
          throw new InputError('name', `a run named ${spec.run} already exists in ${store.label} with a different config`, 'choose another name (config `name` or name=...) or delete that run');
        }
        // Stage 0 is planned now; later stages by planStage once their predecessor has completed.
        const task = taskFor(spec);
        const shards = planShards(spec, await task.stages[0]!.plan(spec, store));
        const totalCells = shards.reduce((a, s) => a + s.cells, 0);
        await store.saveRun({ run: spec.run, task: spec.task, specHash: spec.specHash, spec, totalCells });
        return {
          run: spec.run,
          task: spec.task,
          model: modelLabel(spec),
          specHash: spec.specHash,
          outDir: spec.outDir,
          storeLabel: store.label,
          totalCells,
          taskQueue: spec.execution.taskQueue,
          shardsInFlight: spec.execution.shardsInFlight,
          batchesInFlight: spec.execution.batchesInFlight,
          heartbeatTimeoutMs: spec.execution.heartbeatTimeoutMs,
          shards,
          stages: task.stages.map((s) => s.name),
          ...(spec.budget ? { budget: spec.budget } : {}),
        };
      }, () => outDir);
    },

    /**
     * Plan stage `ref.stage` (≥ 1) after the stages before it have completed: its batches may depend on what they
     * stored. The run's total becomes `ref.cellsBefore` (the earlier stages' cells) plus this stage's.
     */
    async planStage(ref: StageRef): Promise<StagePlan> {
      return asTemporalFailure(async () => {
        const { spec, store } = await runOf(ref);
        const stage = taskFor(spec).stages[ref.stage];
        if (!stage) throw new InputError('run', `run ${ref.run} has no stage ${ref.stage}`, 'start the run again with the code that planned it');
        const shards = planShards(spec, await stage.plan(spec, store));
        const cells = shards.reduce((a, s) => a + s.cells, 0);
        const rec = await store.getRun(ref.run);
        if (rec) await store.saveRun({ ...rec, totalCells: ref.cellsBefore + cells });
        specs.delete(`${store.label}\u0000${ref.run}`);
        return { stage: ref.stage, name: stage.name, shards, cells };
      }, () => ref.outDir);
    },

    /** Run one batch (units × all personas) of a stage; resumes from the last heartbeat and skips what is stored. */
    async runBatch(ref: BatchRef): Promise<{ cells: number; discarded: number }> {
      return asTemporalFailure(async () => {
        const { spec, store } = await runOf(ref);
        // Built on first use: a stage that needs only another role (vision's CLIP stages) never builds the LLM.
        // API backends: every request takes a permit of the fleet-wide bucket and counts against the budget.
        let gate: RequestGate | undefined;
        let llm: Promise<Backend> | undefined;
        const backend = () =>
          (llm ??= deps.backends.llm(spec.model, spec.format).then((b) => {
            const gated = controls.gated(b, spec, store, ref.control);
            gate = gated.gate;
            return gated.backend;
          }));
        const models = modelsOf(spec, Object.keys(rolesOf(taskFor(spec)))[0] as string);
        const ctx = Context.current();
        // Each queued model request listens on the cancellation signal: a batch has many.
        setMaxListeners(0, ctx.cancellationSignal);
        let last: unknown = activityInfo().heartbeatDetails;
        const beat = setInterval(() => heartbeat(last), deps.heartbeatEveryMs ?? 2000);
        try {
          const stage = taskFor(spec).stages[ref.stage ?? 0];
          if (!stage) throw new InputError('run', `run ${ref.run} has no stage ${ref.stage}`, 'start the run again with the code that planned it');
          // Local models serialise their work in the model thread's queue (backends/onnx/thread.ts), nowhere else.
          return await stage.runBatch(
            {
              spec,
              backend,
              model: (role) => {
                const m = models[role];
                if (!m) throw new InputError('models', `run ${spec.run} has no model for role ${role}`, `declare the role in the task's roles (it has ${Object.keys(models).join(', ')})`);
                return deps.backends.get(m, spec.format);
              },
              store,
              signal: ctx.cancellationSignal,
              resume: last,
              onProgress: (p) => {
                last = p;
                heartbeat(p);
              },
            },
            { group: ref.group, start: ref.start, end: ref.end },
          );
        } finally {
          clearInterval(beat);
          await gate?.flush().catch(() => undefined);
        }
      }, () => ref.outDir);
    },

    /**
     * Re-read the store and write the run's files (idempotent). With a shared store (PostgreSQL) the run folder may
     * be on no machine of the cluster: the files are left to whoever reads the result (`rolyplay run`/`results`).
     */
    async reduceExperiment(ref: RunRef): Promise<ExperimentResult> {
      return asTemporalFailure(async () => {
        const { spec, store } = await runOf(ref);
        // Re-read: planStage grows the total as later stages are planned (maybe on another worker).
        const totalCells = (await store.getRun(ref.run))?.totalCells ?? 0;
        const report = await taskFor(spec).report(spec, store, store.shared ? null : spec.outDir);
        // report.html + provenance.json beside the files (a shared store leaves them to whoever reads the result)
        const page = store.shared ? {} : await writeRunReportOrError(spec, store, spec.outDir, totalCells);
        return {
          run: spec.run,
          task: spec.task,
          outDir: spec.outDir,
          totalCells,
          cells: report.cells,
          discarded: report.discarded,
          files: { ...report.files, ...page },
          table: report.table,
          ...(report.personas ? { personas: report.personas } : {}),
        };
      }, () => ref.outDir);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
// Type-only surface for workflows: `proxyActivities<typeof activities>`.
export declare const planExperiment: Activities['planExperiment'];
export declare const planStage: Activities['planStage'];
export declare const runBatch: Activities['runBatch'];
export declare const reduceExperiment: Activities['reduceExperiment'];

/** Split a stage's batches (each a few units × all personas) into shards. */
export function planShards(spec: ExperimentSpec, batches: PlannedBatch[]): ShardPlan[] {
  const shards: ShardPlan[] = [];
  for (let i = 0; i < batches.length; i += spec.execution.batchesPerShard) {
    const part = batches.slice(i, i + spec.execution.batchesPerShard);
    shards.push({ index: shards.length, batches: part, cells: part.reduce((a, b) => a + b.cells, 0) });
  }
  return shards;
}

/** Map domain errors to Temporal's retry semantics: bad input and rejected requests never retry. */
async function asTemporalFailure<T>(fn: () => Promise<T>, where: () => string | undefined = () => undefined): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const cause = err instanceof BatchFailure ? err.backendError : err;
    // A used budget or the provider's quota: the workflow pauses on these types instead of failing.
    if (cause instanceof RunPausedError) throw ApplicationFailure.nonRetryable(cause.message, cause.pauseType);
    if (cause instanceof InputError) throw ApplicationFailure.nonRetryable(cause.message, 'InvalidInput');
    // A full disk or an unwritable folder is not healed by retrying: fail in seconds, naming the path and the fix.
    const path = where();
    const env = cause instanceof EnvironmentError ? cause : path ? fsEnvironmentError(cause, path) : undefined;
    if (env) throw ApplicationFailure.nonRetryable(env.message, 'EnvironmentFailure');
    if (cause instanceof BackendError) {
      switch (cause.kind) {
        case 'fatal':
          throw ApplicationFailure.nonRetryable(cause.message, 'BackendRejected');
        case 'rate_limited':
          throw ApplicationFailure.create({
            message: cause.message,
            type: 'RateLimited',
            nextRetryDelay: (cause as BackendError & { retryAfterMs: number }).retryAfterMs,
          });
        case 'transient':
          throw ApplicationFailure.retryable(cause.message, 'BackendUnavailable');
      }
    }
    throw err;
  }
}
