/**
 * What the engine needs from a task (lm-eval style: a task is data + a little code, the runner does not change).
 * The engine plans batches, runs them as activities (heartbeating whatever progress the task reports, and handing
 * it back on a retry), and asks the task for its report. Plain TypeScript: no Temporal here.
 */
import type { z } from 'zod';
import type { Figure } from '../report/charts.js';
import type { Section } from '../report/html.js';
import type { RunComparison } from '../report/compare.js';
import type { Backend } from '../backends/types.js';
import type { Capability, ModelBackend } from '../backends/catalog.js';
import type { ResultStore } from '../store/results.js';
import type { ExperimentSpec, ResolveContext } from '../experiment/load.js';

/** A batch: units [start, end) of one group (an MMLU subject; the bandit's games), for all personas. */
export interface BatchRange {
  group: string;
  start: number;
  end: number;
}

export interface PlannedBatch extends BatchRange {
  /** persona × unit cells in the batch. */
  cells: number;
}

export interface BatchContext<S extends ExperimentSpec> {
  spec: S;
  /**
   * The primary role's model, as an LLM backend (MMLU, the bandit), built on first call: a stage that uses only
   * another role (vision's CLIP stages) never builds it.
   */
  backend: () => Promise<Backend>;
  /** The model of a role (TaskDefinition.roles), loaded on first use; its capabilities were checked at planning. */
  model?: (role: string) => Promise<ModelBackend>;
  store: ResultStore;
  signal?: AbortSignal;
  /** The last progress this batch reported before a crash or failure, to resume from. */
  resume?: unknown;
  /** Called when there is progress worth keeping (the activity heartbeats it). */
  onProgress?: (progress: unknown) => void;
}

export interface BatchOutcome {
  /** Cells of this batch now in the store (idempotent: a retry does not change it). */
  cells: number;
  discarded: number;
}

export interface ReportTable {
  columns: string[];
  rows: (string | number | null)[][];
}

export interface TaskReport {
  cells: number;
  discarded: number;
  files: Record<string, string>;
  /** The per-persona table the CLI prints. */
  table: ReportTable;
  /** MMLU: per-persona counts (kept in the workflow result for scripts). */
  personas?: PersonaSummary[];
}

/** A stored run, as `rolyplay compare` hands it to the task. */
export interface StoredRun<S extends ExperimentSpec> {
  run: string;
  spec: S;
  store: ResultStore;
}

export interface ReportPage {
  subtitle: string;
  warnings: string[];
  sections: Section[];
  figures: Figure[];
}

export interface PersonaSummary {
  persona: string;
  n: number;
  correct: number;
  accuracy: number | null;
  discarded: number;
}

/**
 * One ordered step of a task (describe → embed → score). Its batches fan out and resume like shards; stage k+1 is
 * planned (by an activity, so it may read what stage k stored) only after stage k has completed.
 */
export interface StageDefinition<S extends ExperimentSpec> {
  /** Shown in progress (query, web UI, CLI); unique within the task. */
  name: string;
  /**
   * The stage's batches. Must depend only on the spec and on earlier stages' records (not on this stage's own
   * progress): a restarted run re-plans and skips what is stored.
   */
  plan(spec: S, store: ResultStore): PlannedBatch[] | Promise<PlannedBatch[]>;
  runBatch(ctx: BatchContext<S>, batch: BatchRange): Promise<BatchOutcome>;
}

/**
 * A task: its config, how that resolves into a spec, its stages, and its report. Registered with
 * `registerTask` (experiment/tasks.ts); the engine knows nothing else about it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface TaskDefinition<S extends ExperimentSpec, C = any> {
  /** The config's `task` value. */
  name: string;
  /** The config schema: a strict zod object with `task: z.literal(name)` and the common fields (`commonFields`). */
  config: z.ZodObject;
  /** Parsed config → spec; `ctx.common(...)` resolves the shared parts and the spec hash. Throws InputError. */
  resolve(cfg: C, ctx: ResolveContext): S;
  /**
   * The models the task needs, by role, with the capabilities each must have; the first role is the primary one,
   * which a config's `model:` names (`models: {role: ...}` names each). Default: `{ llm: ['OptionScorer', 'Generator'] }`.
   */
  roles?: Record<string, readonly Capability[]>;
  /** At least one; run in order. */
  stages: StageDefinition<S>[];
  /** Read the run's results; write its files into `outDir` (null: compute only, files stay empty). */
  report(spec: S, store: ResultStore, outDir: string | null): Promise<TaskReport>;
  /** What is stored so far, in the units of `ExperimentPlan.totalCells` (status, previews). */
  stored(spec: S, store: ResultStore): Promise<{ cells: number; discarded: number }>;
  /** One line for the web UI's run list. */
  summary(spec: S): string;
  /** Markdown shown at the start of a run in the web UI. */
  details(spec: S): string[];
  /** Which of `TaskReport.files` `rolyplay results --format csv|json` prints. */
  resultFiles: { csv: string; json: string };
  /**
   * The body of report.html from the run's metrics.json (which `report` wrote): subtitle, warnings, sections and
   * their figures. Absent: the page holds the run's provenance only.
   */
  page?(spec: S, metrics: unknown, opts: { totalCells?: number; modelLabel: string }): Promise<ReportPage>;
  /** Lines `rolyplay run` prints after the table, from the run's metrics.json (headline, best and worst, ...). */
  consoleSummary?(metrics: unknown): string[];
  /**
   * `rolyplay compare A B`: per-persona differences B − A on the same items with paired intervals (both runs are of
   * this task). Absent: the task's runs cannot be compared (the CLI says so).
   */
  compare?(a: StoredRun<S>, b: StoredRun<S>): Promise<RunComparison>;
  /** The unit `rolyplay run` counts in, plural (default "cells"). */
  unitName?: string;
}
