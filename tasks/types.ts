/**
 * What the engine needs from a task (lm-eval style: a task is data + a little code, the runner does not change).
 * The engine plans batches, runs them as activities (heartbeating whatever progress the task reports, and handing
 * it back on a retry), and asks the task for its report. Plain TypeScript: no Temporal here.
 */
import type { Backend } from '../backends/types.js';
import type { ResultStore } from '../store/results.js';
import type { ExperimentSpec } from '../experiment/load.js';

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
  backend: Backend;
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

export interface PersonaSummary {
  persona: string;
  n: number;
  correct: number;
  accuracy: number | null;
  discarded: number;
}

export interface TaskDefinition<S extends ExperimentSpec> {
  plan(spec: S): PlannedBatch[];
  runBatch(ctx: BatchContext<S>, batch: BatchRange): Promise<BatchOutcome>;
  /** Read the run's results; write its files into `outDir` (null: compute only, files stay empty). */
  report(spec: S, store: ResultStore, outDir: string | null): Promise<TaskReport>;
  /** What is stored so far, in the units of `ExperimentPlan.totalCells` (status, previews). */
  stored(spec: S, store: ResultStore): Promise<{ cells: number; discarded: number }>;
  /** One line for the web UI's run list. */
  summary(spec: S): string;
  /** Markdown shown at the start of a run in the web UI. */
  details(spec: S): string[];
}
