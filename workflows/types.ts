/**
 * Inputs and outputs that cross the workflow/activity boundary. Only small, plain JSON: questions, prompts and
 * model outputs stay in the result store, never in workflow history.
 */
import type { PersonaSummary, ReportTable } from '../tasks/types.js';
import type { Budget } from '../control/budget.js';
import type { BatchControl } from '../activities/control.js';
import type { ControlState } from './control.js';

/** Input of `experimentWorkflow`, also what `temporal workflow start --input` takes (see README). */
export interface ExperimentInput {
  /** An experiment config, the same schema as configs/*.yaml (persona sets and templates by name or inline). */
  config: unknown;
  /** `key=value` overrides applied to `config`. */
  overrides?: string[];
  /** Folder against which relative paths in `config` resolve on the worker; default: the worker's cwd. */
  baseDir?: string;
  /** Carried across continue-as-new; absent on a fresh start. */
  state?: ExperimentState;
}

export interface ExperimentState {
  plan: ExperimentPlan;
  /** Shards before this index have completed. */
  nextShard: number;
  /** Cells of completed shards. */
  doneCells: number;
  discarded: number;
  /** Run control (pause, budget, concurrency, rate) carried across continue-as-new. */
  control?: ControlState;
}

/**
 * Which run's store: the worker picks the store (its ROLYPLAY_STORE, else the SQLite file in `outDir`); inputs
 * carry no store address. Runs planned by older code carry `storePath` (their SQLite file) and keep using it.
 */
export interface RunRef {
  run: string;
  specHash: string;
  /** The run folder as the planning worker resolved it. */
  outDir: string;
  /** Legacy: the SQLite file of runs planned before the worker chose the store. */
  storePath?: string;
}

export interface BatchRef extends RunRef {
  /** An MMLU subject, or "games" for the bandit. */
  group: string;
  start: number;
  end: number;
  /** The workflow's current budget and rate (run control); absent in batches of older code. */
  control?: BatchControl;
}

export interface ShardPlan {
  index: number;
  batches: { group: string; start: number; end: number; cells: number }[];
  cells: number;
}

export interface ExperimentPlan {
  run: string;
  task: string;
  model: string;
  specHash: string;
  outDir: string;
  /** Legacy (plans made before the worker chose the store): the run's SQLite file. */
  storePath?: string;
  /** Where the cells are kept, for messages: a file path, or the database without user and password. */
  storeLabel?: string;
  totalCells: number;
  taskQueue: string;
  shardsInFlight: number;
  batchesInFlight: number;
  heartbeatTimeoutMs: number;
  shards: ShardPlan[];
  /** `budget:` of the config (plans of older code have none). */
  budget?: Budget;
}

export interface ShardInput {
  parentId: string;
  plan: Pick<ExperimentPlan, 'run' | 'specHash' | 'taskQueue' | 'batchesInFlight' | 'heartbeatTimeoutMs'> & Partial<Pick<ExperimentPlan, 'outDir' | 'storePath'>>;
  shard: ShardPlan;
  /** Carried across continue-as-new: batches before this index are done. */
  nextBatch?: number;
  doneCells?: number;
  discarded?: number;
  /** The parent's run control when the shard started (or continued as new). */
  control?: ControlState;
}

export interface ShardResult {
  cells: number;
  discarded: number;
}

export interface ProgressUpdate {
  shard: number;
  cells: number;
}

export interface ExperimentResult {
  run: string;
  task: string;
  outDir: string;
  totalCells: number;
  /** MMLU: persona × question cells; bandit: persona × game cells (games stored, abandoned included). */
  cells: number;
  /** MMLU: discarded answers; bandit: abandoned games. */
  discarded: number;
  /** e.g. resultsCsv and metricsJson (MMLU), trialsCsv and metricsJson (bandit). */
  files: Record<string, string>;
  /** The per-persona table the CLI prints. */
  table: ReportTable;
  /** MMLU only: per-persona counts. */
  personas?: PersonaSummary[];
}
