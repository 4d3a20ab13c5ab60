/**
 * The result store: one SQLite file per run folder. Every persona × item result is an upsert on
 * (run, task, persona, item, sample), so a retried batch or a replayed activity can never count a cell twice.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run TEXT PRIMARY KEY, task TEXT NOT NULL, spec_hash TEXT NOT NULL, spec_json TEXT NOT NULL,
  total_cells INTEGER NOT NULL, planned_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
  run TEXT NOT NULL, task TEXT NOT NULL, persona TEXT NOT NULL, item TEXT NOT NULL, sample INTEGER NOT NULL,
  subject TEXT NOT NULL, item_index INTEGER NOT NULL, label INTEGER NOT NULL, prompt_hash TEXT NOT NULL,
  method TEXT NOT NULL, logprobs_json TEXT, absent_json TEXT NOT NULL, prediction INTEGER, correct INTEGER,
  discarded INTEGER NOT NULL, raw_text TEXT, attempts INTEGER NOT NULL, backend TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (run, task, persona, item, sample)
);
-- The bandit: one row per finished (or abandoned) game, and its trial rows (the seed's CSV columns).
CREATE TABLE IF NOT EXISTS bandit_games (
  run TEXT NOT NULL, persona TEXT NOT NULL, game INTEGER NOT NULL, mu1 REAL NOT NULL, mu2 REAL NOT NULL,
  abandoned INTEGER NOT NULL, trials INTEGER NOT NULL, backend TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (run, persona, game)
);
CREATE INDEX IF NOT EXISTS bandit_games_by_game ON bandit_games (run, game, persona);
CREATE TABLE IF NOT EXISTS bandit_trials (
  run TEXT NOT NULL, persona TEXT NOT NULL, game INTEGER NOT NULL, trial INTEGER NOT NULL,
  v REAL NOT NULL, ru REAL NOT NULL, v_tu REAL NOT NULL, action1 INTEGER NOT NULL, regret REAL NOT NULL,
  reward REAL NOT NULL, mu1 REAL NOT NULL, mu2 REAL NOT NULL, logprob1 REAL, logprob2 REAL, attempts INTEGER NOT NULL,
  raw_text TEXT, prompt_hash TEXT NOT NULL,
  PRIMARY KEY (run, persona, game, trial)
);
-- Batches look their cells up by item (resume, per-batch counts): without this each lookup scans the run.
CREATE INDEX IF NOT EXISTS cells_by_item ON cells (run, task, item, persona, sample);
`;

export function storePath(outDir: string): string {
  return join(outDir, 'results.sqlite');
}

export class ResultStore {
  readonly db: Database.Database;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // WAL lets several worker processes write one file; busy_timeout waits instead of failing on a held lock.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 30000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  saveRun(rec: RunRecord): void {
    this.db
      .prepare(
        `INSERT INTO runs (run, task, spec_hash, spec_json, total_cells, planned_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(run) DO UPDATE SET task=excluded.task, spec_hash=excluded.spec_hash, spec_json=excluded.spec_json,
           total_cells=excluded.total_cells`,
      )
      .run(rec.run, rec.task, rec.specHash, JSON.stringify(rec.spec), rec.totalCells, new Date().toISOString());
  }

  getRun(run: string): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE run = ?').get(run) as
      | { run: string; task: string; spec_hash: string; spec_json: string; total_cells: number }
      | undefined;
    if (!row) return undefined;
    return { run: row.run, task: row.task, specHash: row.spec_hash, spec: JSON.parse(row.spec_json), totalCells: row.total_cells };
  }

  runNames(): string[] {
    return (this.db.prepare('SELECT run FROM runs ORDER BY run').all() as { run: string }[]).map((r) => r.run);
  }

  private upsertStmt?: Database.Statement;
  private upsertMany?: (rows: CellResult[]) => void;

  upsertCells(cells: CellResult[]): void {
    // Prepared once per connection: batches upsert after every question.
    this.upsertStmt ??= this.db.prepare(
      `INSERT INTO cells (run, task, persona, item, sample, subject, item_index, label, prompt_hash, method,
         logprobs_json, absent_json, prediction, correct, discarded, raw_text, attempts, backend, updated_at)
       VALUES (@run, @task, @persona, @item, @sample, @subject, @itemIndex, @label, @promptHash, @method,
         @logprobs, @absent, @prediction, @correct, @discarded, @rawText, @attempts, @backend, @updatedAt)
       ON CONFLICT(run, task, persona, item, sample) DO UPDATE SET
         subject=excluded.subject, item_index=excluded.item_index, label=excluded.label, prompt_hash=excluded.prompt_hash,
         method=excluded.method, logprobs_json=excluded.logprobs_json, absent_json=excluded.absent_json,
         prediction=excluded.prediction, correct=excluded.correct, discarded=excluded.discarded,
         raw_text=excluded.raw_text, attempts=excluded.attempts, backend=excluded.backend, updated_at=excluded.updated_at`,
    );
    const stmt = this.upsertStmt;
    this.upsertMany ??= this.db.transaction((rows: CellResult[]) => {
      const now = new Date().toISOString();
      for (const c of rows) {
        stmt.run({
          ...c,
          logprobs: c.logprobs === null ? null : JSON.stringify(c.logprobs),
          absent: JSON.stringify(c.absent),
          correct: c.correct === null ? null : c.correct ? 1 : 0,
          discarded: c.discarded ? 1 : 0,
          updatedAt: now,
        });
      }
    });
    this.upsertMany(cells);
  }

  /** Keys `persona \0 item` of the cells already stored for these items (sample 0). */
  doneKeys(run: string, task: string, items: string[]): Set<string> {
    const out = new Set<string>();
    const stmt = this.db.prepare('SELECT persona, item FROM cells WHERE run = ? AND task = ? AND item = ? AND sample = 0');
    for (const item of items) {
      for (const r of stmt.iterate(run, task, item) as Iterable<{ persona: string; item: string }>) out.add(cellKey(r.persona, r.item));
    }
    return out;
  }

  countCells(run: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM cells WHERE run = ?').get(run) as { n: number }).n;
  }

  cells(run: string): CellResult[] {
    const rows = this.db.prepare('SELECT * FROM cells WHERE run = ? ORDER BY subject, item_index, persona, sample').all(run) as Record<string, unknown>[];
    return rows.map((r) => ({
      run: r.run as string,
      task: r.task as string,
      persona: r.persona as string,
      item: r.item as string,
      sample: r.sample as number,
      subject: r.subject as string,
      itemIndex: r.item_index as number,
      label: r.label as number,
      promptHash: r.prompt_hash as string,
      method: r.method as string,
      logprobs: r.logprobs_json === null ? null : (JSON.parse(r.logprobs_json as string) as number[]),
      absent: JSON.parse(r.absent_json as string) as string[],
      prediction: r.prediction as number | null,
      correct: r.correct === null ? null : r.correct === 1,
      discarded: r.discarded === 1,
      rawText: r.raw_text as string | null,
      attempts: r.attempts as number,
      backend: r.backend as string,
    }));
  }

  close(): void {
    this.db.close();
  }
}

export function cellKey(persona: string, item: string): string {
  return `${persona}\u0000${item}`;
}

const open = new Map<string, ResultStore>();

/** One connection per file per process (activities of a worker share it). */
export function openStore(path: string): ResultStore {
  let s = open.get(path);
  if (!s) {
    s = new ResultStore(path);
    open.set(path, s);
  }
  return s;
}

export function closeAllStores(): void {
  for (const s of open.values()) s.close();
  open.clear();
}
