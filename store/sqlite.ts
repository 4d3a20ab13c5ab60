/**
 * The embedded result store: one SQLite file per run folder (better-sqlite3; synchronous underneath, so each call
 * is one transaction of its own and never interleaves with another on the same connection).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PAGE_ROWS, cellKey, type CellResult, type RecordQuery, type ResultStore, type RunRecord, type RunTimes, type TaskRecord } from './types.js';
import { CELL_ORDER, cellFromRow, recordFromRow, type Row } from './rows.js';

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
-- Batches look their cells up by item (resume, per-batch counts): without this each lookup scans the run.
CREATE INDEX IF NOT EXISTS cells_by_item ON cells (run, task, item, persona, sample);
-- Reports stream the run in this order, page by page.
CREATE INDEX IF NOT EXISTS cells_in_order ON cells (run, subject, item_index, persona, sample, item, task);
-- Task-owned JSON records (the bandit's games): a new task needs no new table.
CREATE TABLE IF NOT EXISTS records (
  run TEXT NOT NULL, task TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, unit INTEGER NOT NULL,
  flag INTEGER NOT NULL, payload_json TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (run, task, kind, key)
);
CREATE INDEX IF NOT EXISTS records_by_unit ON records (run, task, kind, unit, key);
-- Run control shared by the run's worker processes (control/gate.ts): rate buckets and usage, as JSON.
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

export function sqlitePath(outDir: string): string {
  return join(outDir, 'results.sqlite');
}

export class SqliteStore implements ResultStore {
  readonly db: Database.Database;
  readonly shared = false;
  readonly label: string;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly upsertMany: (rows: CellResult[]) => void;
  private readonly putMany: (rows: TaskRecord[]) => void;

  constructor(readonly path: string) {
    this.label = path;
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // WAL lets several worker processes write one file; busy_timeout waits instead of failing on a held lock.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 30000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    migrateBanditTables(this.db);
    this.upsertMany = this.db.transaction((rows: CellResult[]) => {
      const stmt = this.stmt(UPSERT_CELL);
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
    this.putMany = this.db.transaction((rows: TaskRecord[]) => {
      const stmt = this.stmt(UPSERT_RECORD);
      const now = new Date().toISOString();
      for (const r of rows) stmt.run(r.run, r.task, r.kind, r.key, r.unit, r.flag ? 1 : 0, JSON.stringify(r.payload), now);
    });
  }

  /** Prepared once per connection: batches upsert after every question. */
  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  async saveRun(rec: RunRecord): Promise<void> {
    this.stmt(
      `INSERT INTO runs (run, task, spec_hash, spec_json, total_cells, planned_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(run) DO UPDATE SET task=excluded.task, spec_hash=excluded.spec_hash, spec_json=excluded.spec_json,
         total_cells=excluded.total_cells`,
    ).run(rec.run, rec.task, rec.specHash, JSON.stringify(rec.spec), rec.totalCells, new Date().toISOString());
  }

  async getRun(run: string): Promise<RunRecord | undefined> {
    const row = this.stmt('SELECT * FROM runs WHERE run = ?').get(run) as Row | undefined;
    return row && { run: row.run as string, task: row.task as string, specHash: row.spec_hash as string, spec: JSON.parse(row.spec_json as string), totalCells: row.total_cells as number };
  }

  async runNames(): Promise<string[]> {
    return (this.stmt('SELECT run FROM runs ORDER BY run').all() as { run: string }[]).map((r) => r.run);
  }

  async runTimes(run: string, task: string): Promise<RunTimes> {
    const planned = this.stmt('SELECT planned_at AS t FROM runs WHERE run = ?').get(run) as { t: string } | undefined;
    // The last write of the run, whichever table its task keeps results in.
    const last = this.stmt(
      'SELECT MAX(t) AS t FROM (SELECT MAX(updated_at) AS t FROM cells WHERE run = ? UNION ALL SELECT MAX(updated_at) FROM records WHERE run = ? AND task = ?)',
    ).get(run, run, task) as { t: string | null } | undefined;
    return { started: planned?.t ?? null, finished: last?.t ?? null };
  }

  async upsertCells(cells: CellResult[]): Promise<void> {
    if (cells.length > 0) this.upsertMany(cells);
  }

  async doneKeys(run: string, task: string, items: string[]): Promise<Set<string>> {
    const rows = this.stmt('SELECT persona, item FROM cells WHERE run = ? AND task = ? AND sample = 0 AND item IN (SELECT value FROM json_each(?))')
      .all(run, task, JSON.stringify(items)) as { persona: string; item: string }[];
    return new Set(rows.map((r) => cellKey(r.persona, r.item)));
  }

  async countCells(run: string, task: string, items?: string[]): Promise<{ cells: number; discarded: number }> {
    const sql = `SELECT COUNT(*) AS cells, COALESCE(SUM(discarded), 0) AS discarded FROM cells WHERE run = ? AND task = ? AND sample = 0`;
    return (items === undefined
      ? this.stmt(sql).get(run, task)
      : this.stmt(`${sql} AND item IN (SELECT value FROM json_each(?))`).get(run, task, JSON.stringify(items))) as { cells: number; discarded: number };
  }

  async *streamCells(run: string): AsyncIterable<CellResult> {
    const first = this.stmt(`SELECT * FROM cells WHERE run = ? ORDER BY ${CELL_ORDER} LIMIT ?`);
    const next = this.stmt(`SELECT * FROM cells WHERE run = ? AND (${CELL_ORDER}) > (?, ?, ?, ?, ?, ?) ORDER BY ${CELL_ORDER} LIMIT ?`);
    let page = first.all(run, PAGE_ROWS) as Row[];
    while (page.length > 0) {
      for (const r of page) yield cellFromRow(r);
      if (page.length < PAGE_ROWS) return;
      const l = page[page.length - 1] as Row;
      page = next.all(run, l.subject, l.item_index, l.persona, l.sample, l.item, l.task, PAGE_ROWS) as Row[];
    }
  }

  async putRecords(records: TaskRecord[]): Promise<void> {
    if (records.length > 0) this.putMany(records);
  }

  async recordKeys(q: RecordQuery): Promise<Set<string>> {
    const rows = this.stmt(`SELECT key FROM records WHERE ${RECORD_WHERE}`).all(...recordArgs(q)) as { key: string }[];
    return new Set(rows.map((r) => r.key));
  }

  async countRecords(q: RecordQuery): Promise<{ records: number; flagged: number }> {
    return this.stmt(`SELECT COUNT(*) AS records, COALESCE(SUM(flag), 0) AS flagged FROM records WHERE ${RECORD_WHERE}`).get(...recordArgs(q)) as {
      records: number;
      flagged: number;
    };
  }

  async *streamRecords(q: RecordQuery): AsyncIterable<TaskRecord> {
    const first = this.stmt(`SELECT * FROM records WHERE ${RECORD_WHERE} ORDER BY unit, key LIMIT ?`);
    const next = this.stmt(`SELECT * FROM records WHERE ${RECORD_WHERE} AND (unit, key) > (?, ?) ORDER BY unit, key LIMIT ?`);
    let page = first.all(...recordArgs(q), PAGE_ROWS) as Row[];
    while (page.length > 0) {
      for (const r of page) yield recordFromRow(r);
      if (page.length < PAGE_ROWS) return;
      const l = page[page.length - 1] as Row;
      page = next.all(...recordArgs(q), l.unit, l.key, PAGE_ROWS) as Row[];
    }
  }

  async updateControl<T>(keys: string[], fn: (states: (unknown | undefined)[], now: number) => { states: unknown[]; result: T }): Promise<T> {
    const get = this.stmt('SELECT state_json FROM control WHERE key = ?');
    const put = this.stmt(`INSERT INTO control (key, state_json, updated_at) VALUES (?, ?, ?)
      ON CONFLICT(key) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at`);
    // IMMEDIATE takes the write lock before reading: two processes cannot both read the old state.
    return this.db.transaction(() => {
      const now = Date.now();
      const states = keys.map((k) => {
        const row = get.get(k) as { state_json: string } | undefined;
        return row ? (JSON.parse(row.state_json) as unknown) : undefined;
      });
      const out = fn(states, now);
      const at = new Date(now).toISOString();
      keys.forEach((k, i) => put.run(k, JSON.stringify(out.states[i]), at));
      return out.result;
    }).immediate();
  }

  async readControl(key: string): Promise<unknown | undefined> {
    const row = this.stmt('SELECT state_json FROM control WHERE key = ?').get(key) as { state_json: string } | undefined;
    return row ? (JSON.parse(row.state_json) as unknown) : undefined;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

const RECORD_WHERE = 'run = ? AND task = ? AND kind = ? AND unit >= ? AND unit < ?';
function recordArgs(q: RecordQuery): [string, string, string, number, number] {
  return [q.run, q.task, q.kind, q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER];
}

const UPSERT_CELL = `INSERT INTO cells (run, task, persona, item, sample, subject, item_index, label, prompt_hash, method,
    logprobs_json, absent_json, prediction, correct, discarded, raw_text, attempts, backend, updated_at)
  VALUES (@run, @task, @persona, @item, @sample, @subject, @itemIndex, @label, @promptHash, @method,
    @logprobs, @absent, @prediction, @correct, @discarded, @rawText, @attempts, @backend, @updatedAt)
  ON CONFLICT(run, task, persona, item, sample) DO UPDATE SET
    subject=excluded.subject, item_index=excluded.item_index, label=excluded.label, prompt_hash=excluded.prompt_hash,
    method=excluded.method, logprobs_json=excluded.logprobs_json, absent_json=excluded.absent_json,
    prediction=excluded.prediction, correct=excluded.correct, discarded=excluded.discarded,
    raw_text=excluded.raw_text, attempts=excluded.attempts, backend=excluded.backend, updated_at=excluded.updated_at`;

/**
 * Files written before the generic record table kept the bandit's games in tables of their own: move each game,
 * with its trials, into one record of the shape tasks/bandit/records.ts writes, then drop those tables. Once per
 * file, in one transaction.
 */
function migrateBanditTables(db: Database.Database): void {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bandit_games'").get();
  if (!has) return;
  db.transaction(() => {
    const trials = new Map<string, unknown[]>();
    for (const t of db.prepare('SELECT * FROM bandit_trials ORDER BY run, persona, game, trial').all() as Row[]) {
      const k = JSON.stringify([t.run, t.persona, t.game]);
      if (!trials.has(k)) trials.set(k, []);
      trials.get(k)?.push({
        trial: t.trial, V: t.v, RU: t.ru, 'V/TU': t.v_tu, action1: t.action1 === 1, regret: t.regret, reward: t.reward, mu1: t.mu1, mu2: t.mu2,
        logprob1: t.logprob1, logprob2: t.logprob2, attempts: t.attempts, rawText: t.raw_text, promptHash: t.prompt_hash,
      });
    }
    const put = db.prepare(UPSERT_RECORD);
    for (const g of db.prepare('SELECT * FROM bandit_games').all() as Row[]) {
      const abandoned = g.abandoned === 1;
      const payload = { run: g.run, persona: g.persona, game: g.game, mu1: g.mu1, mu2: g.mu2, abandoned, backend: g.backend, trials: abandoned ? [] : trials.get(JSON.stringify([g.run, g.persona, g.game])) ?? [] };
      put.run(g.run, 'bandit', 'game', JSON.stringify([g.persona, g.game]), g.game, abandoned ? 1 : 0, JSON.stringify(payload), g.updated_at);
    }
    db.exec('DROP TABLE bandit_trials; DROP TABLE bandit_games;');
  })();
}

const UPSERT_RECORD = `INSERT INTO records (run, task, kind, key, unit, flag, payload_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(run, task, kind, key) DO UPDATE SET unit=excluded.unit, flag=excluded.flag, payload_json=excluded.payload_json,
    updated_at=excluded.updated_at`;
