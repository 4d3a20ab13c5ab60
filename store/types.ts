/**
 * The result store's contract, implemented by SQLite (store/sqlite.ts, the embedded default: one file per run
 * folder) and PostgreSQL (store/postgres.ts, one database for workers that share nothing else). Every write is an
 * idempotent upsert, so a retried batch or a replayed activity never counts a cell twice. Tasks keep what is theirs
 * (e.g. the bandit's games) as JSON payloads in the generic record table: a new task needs no schema change.
 */

export interface CellResult {
  run: string;
  task: string;
  persona: string;
  /** Stable item id, e.g. "abstract_algebra/test/0". */
  item: string;
  sample: number;
  subject: string;
  itemIndex: number;
  label: number;
  promptHash: string;
  /** 'logits' | 'top_logprobs' | 'top_logprobs_partial' | 'generate' */
  method: string;
  /** Log-prob per option (logit scoring), else null. */
  logprobs: number[] | null;
  /** Options that an API left out of its top list. */
  absent: string[];
  /** Predicted option index, null when discarded. */
  prediction: number | null;
  correct: boolean | null;
  discarded: boolean;
  rawText: string | null;
  attempts: number;
  backend: string;
}

export interface RunRecord {
  run: string;
  task: string;
  specHash: string;
  spec: unknown;
  totalCells: number;
}

/** A task-owned record: upserted on (run, task, kind, key); `unit` and `flag` are what the store can count by. */
export interface TaskRecord {
  run: string;
  task: string;
  /** What the record is, in the task's terms (e.g. "game"). */
  kind: string;
  /** Unique within (run, task, kind). */
  key: string;
  /** An integer position for range queries (e.g. the game index). */
  unit: number;
  /** A task-defined mark that `countRecords` sums (e.g. an abandoned game). */
  flag: boolean;
  /** Any JSON value. */
  payload: unknown;
}

/** Records of one kind, optionally only units [from, to). */
export interface RecordQuery {
  run: string;
  task: string;
  kind: string;
  from?: number;
  to?: number;
}

/** ISO-8601 times (UTC); null when the run is unknown or has stored nothing yet. */
export interface RunTimes {
  started: string | null;
  finished: string | null;
}

export interface ResultStore {
  /** What the store is, without secrets (safe for logs, messages and workflow history). */
  readonly label: string;
  /** True when every worker reaches the same store whatever its machine (the run folder may be elsewhere). */
  readonly shared: boolean;

  saveRun(rec: RunRecord): Promise<void>;
  getRun(run: string): Promise<RunRecord | undefined>;
  runNames(): Promise<string[]>;
  /** When the run was first planned and when its last result (cell or task record of `task`) was stored. */
  runTimes(run: string, task: string): Promise<RunTimes>;

  /** Upsert on (run, task, persona, item, sample); all rows in one statement/transaction. */
  upsertCells(cells: CellResult[]): Promise<void>;
  /** Keys `cellKey(persona, item)` of the cells already stored for these items (sample 0). */
  doneKeys(run: string, task: string, items: string[]): Promise<Set<string>>;
  /** Stored cells (sample 0) and how many are discarded: of the run, or of `items` only. */
  countCells(run: string, task: string, items?: string[]): Promise<{ cells: number; discarded: number }>;
  /** The run's cells ordered by subject, item index, persona, sample (byte order of the strings), page by page. */
  streamCells(run: string): AsyncIterable<CellResult>;

  putRecords(records: TaskRecord[]): Promise<void>;
  recordKeys(q: RecordQuery): Promise<Set<string>>;
  countRecords(q: RecordQuery): Promise<{ records: number; flagged: number }>;
  /** Ordered by unit, then key (byte order). */
  streamRecords(q: RecordQuery): AsyncIterable<TaskRecord>;

  /**
   * Run control shared by every worker of a run (rate buckets, usage against budgets): read the JSON states of
   * `keys`, let `fn` compute new ones, write them, all in one transaction that no other worker can interleave with
   * (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE). `now` is the store's clock (ms), the same for every
   * worker of a PostgreSQL store. `fn` must be synchronous and may run again if the transaction is retried.
   */
  updateControl<T>(keys: string[], fn: (states: (unknown | undefined)[], now: number) => { states: unknown[]; result: T }): Promise<T>;
  readControl(key: string): Promise<unknown | undefined>;

  close(): Promise<void>;
}

export function cellKey(persona: string, item: string): string {
  return `${persona}\u0000${item}`;
}

/** All of an async iterable (reports that need every row at once). */
export async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

/** Rows fetched per round trip when streaming. */
export const PAGE_ROWS = 5000;
