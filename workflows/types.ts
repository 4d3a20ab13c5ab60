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
  /** The stage in progress (absent: 0) and, from stage 1 on, its plan. */
  stage?: number;
  stagePlan?: StagePlan;
  /** Per stage so far: cells planned and done (absent in states of runs started before stages). */
  stageCells?: { total: number; done: number }[];
  /** Shards of the current stage before this index have completed. */
  nextShard: number;
  /** Cells of completed shards (all stages). */
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

/** Which stage of a run (index into the task's stages; absent: 0, as in plans made before stages). */
export interface StageRef extends RunRef {
  stage: number;
  /** Cells of the stages before this one (the run's total is updated to these plus this stage's). */
  cellsBefore: number;
}

/** A stage planned after its predecessor completed. */
export interface StagePlan {
  stage: number;
  name: string;
  shards: ShardPlan[];
  cells: number;
}

export interface BatchRef extends RunRef {
  /** The task's stage (absent: 0). */
  stage?: number;
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
  /** Stage 0's shards (later stages are planned by `planStage` when they start). */
  shards: ShardPlan[];
  /** The task's stage names, in order (absent in plans made before stages: one stage). */
  stages?: string[];
  /** `budget:` of the config (plans of older code have none). */
  budget?: Budget;
}

export interface ShardInput {
  parentId: string;
  plan: Pick<ExperimentPlan, 'run' | 'specHash' | 'taskQueue' | 'batchesInFlight' | 'heartbeatTimeoutMs'> & Partial<Pick<ExperimentPlan, 'outDir' | 'storePath'>> & {
    /** The stage whose batches this shard runs (absent: 0). */
    stage?: number;
  };
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
  /** Absent: stage 0 (signals of shards started before stages). */
  stage?: number;
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
