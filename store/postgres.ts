/**
 * The shared result store: one PostgreSQL database for every worker of a cluster, on whatever machine (the `pg`
 * package, a pool per process). Batches write all their rows in one statement (unnest of column arrays, a named
 * prepared statement per connection). Text columns use the "C" collation, so rows stream in the same byte order
 * as from SQLite and reports are identical whichever store a run used.
 */
import pg from 'pg';
import { InputError } from '../experiment/errors.js';
import { PAGE_ROWS, cellKey, type CellResult, type RecordQuery, type ResultStore, type RunRecord, type RunTimes, type TaskRecord } from './types.js';
import { CELL_ORDER, cellFromRow, recordFromRow, type Row } from './rows.js';

/** The variable that chooses the store; named in every error about it. */
export const STORE_ENV = 'ROLYPLAY_STORE';

/** Connections per process, unless ROLYPLAY_STORE_POOL says otherwise. */
export const DEFAULT_POOL = 2;

const T = 'TEXT COLLATE "C"';
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run ${T} PRIMARY KEY, task ${T} NOT NULL, spec_hash ${T} NOT NULL, spec_json TEXT NOT NULL,
  total_cells INTEGER NOT NULL, planned_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cells (
  run ${T} NOT NULL, task ${T} NOT NULL, persona ${T} NOT NULL, item ${T} NOT NULL, sample INTEGER NOT NULL,
  subject ${T} NOT NULL, item_index INTEGER NOT NULL, label INTEGER NOT NULL, prompt_hash ${T} NOT NULL,
  method ${T} NOT NULL, logprobs_json TEXT, absent_json TEXT NOT NULL, prediction INTEGER, correct SMALLINT,
  discarded SMALLINT NOT NULL, raw_text TEXT, attempts INTEGER NOT NULL, backend ${T} NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- Item before persona: batches look their cells up by item, so the key is the only index the hot path maintains
  -- (reports sort once, through a cursor).
  PRIMARY KEY (run, task, item, persona, sample)
);
CREATE TABLE IF NOT EXISTS records (
  run ${T} NOT NULL, task ${T} NOT NULL, kind ${T} NOT NULL, key ${T} NOT NULL, unit INTEGER NOT NULL,
  flag SMALLINT NOT NULL, payload_json TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (run, task, kind, key)
);
CREATE INDEX IF NOT EXISTS records_by_unit ON records (run, task, kind, unit, key);
CREATE TABLE IF NOT EXISTS control (key ${T} PRIMARY KEY, state_json TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
`;

/** The URL without user and password: what messages and logs may show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Create database `name` on the server of `url` (whose user may create databases) and return its URL: the test
 * suite on PostgreSQL gives each test file a database of its own (tests/support/storeEnv.ts).
 */
export async function createDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

export class PostgresStore implements ResultStore {
  readonly shared = true;
  readonly label: string;
  private readonly pool: pg.Pool;

  private constructor(url: string, poolSize: number) {
    this.label = `PostgreSQL ${redactUrl(url)}`;
    // Fail fast: a database that does not answer in 10 s is an error to report, not a wait.
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
    // An idle client losing its connection (database restart) must not crash the worker: the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Connect once (so a bad URL fails here, with the fix) and create the tables if missing. */
  /**
   * `poolSize`: connections per process. Batches write in large groups, so a few suffice; more only contend: on a
   * 2-core machine 8 connections took 84 s for the engine bench's PostgreSQL run where 2 took 59 s.
   */
  static async open(url: string, poolSize = DEFAULT_POOL): Promise<PostgresStore> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InputError(STORE_ENV, `is not a valid URL (${redactUrl(url)})`, 'set it to postgres://user:password@host:5432/database, or unset it for the SQLite file in the run folder');
    }
    if (!parsed.pathname || parsed.pathname === '/') {
      throw new InputError(STORE_ENV, `names no database (${redactUrl(url)})`, 'add the database name: postgres://user:password@host:5432/database');
    }
    const store = new PostgresStore(url, poolSize);
    try {
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        // Several workers starting at once: one creates the tables, the others wait and find them.
        await client.query('SELECT pg_advisory_xact_lock(7207301)');
        await client.query(SCHEMA);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    } catch (err) {
      await store.pool.end().catch(() => undefined);
      throw connectError(err, url);
    }
    return store;
  }

  private async q(name: string, text: string, values: unknown[]): Promise<Row[]> {
    return (await this.pool.query({ name, text, values })).rows as Row[];
  }

  async saveRun(rec: RunRecord): Promise<void> {
    await this.q(
      'save_run',
      `INSERT INTO runs (run, task, spec_hash, spec_json, total_cells) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run) DO UPDATE SET task=excluded.task, spec_hash=excluded.spec_hash, spec_json=excluded.spec_json, total_cells=excluded.total_cells`,
      [rec.run, rec.task, rec.specHash, JSON.stringify(rec.spec), rec.totalCells],
    );
  }

  async getRun(run: string): Promise<RunRecord | undefined> {
    const [row] = await this.q('get_run', 'SELECT * FROM runs WHERE run = $1', [run]);
    return row && { run: row.run as string, task: row.task as string, specHash: row.spec_hash as string, spec: JSON.parse(row.spec_json as string), totalCells: row.total_cells as number };
  }

  async runNames(): Promise<string[]> {
    return (await this.q('run_names', 'SELECT run FROM runs ORDER BY run', [])).map((r) => r.run as string);
  }

  async runTimes(run: string, task: string): Promise<RunTimes> {
    const [row] = await this.q(
      'run_times',
      `SELECT (SELECT planned_at FROM runs WHERE run = $1) AS started,
         (SELECT MAX(t) FROM (SELECT MAX(updated_at) AS t FROM cells WHERE run = $1
           UNION ALL SELECT MAX(updated_at) FROM records WHERE run = $1 AND task = $2) AS u) AS finished`,
      [run, task],
    );
    const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : new Date(v as string).toISOString());
    return { started: iso(row?.started), finished: iso(row?.finished) };
  }

  async upsertCells(cells: CellResult[]): Promise<void> {
    // One statement may not update a row twice: the last of duplicate keys wins, as in a loop of upserts.
    const rows = [...new Map(cells.map((c) => [`${cellKey(c.persona, c.item)}\u0000${c.task}\u0000${c.run}\u0000${c.sample}`, c])).values()];
    if (rows.length === 0) return;
    const col = <K extends keyof CellResult>(k: K) => rows.map((c) => c[k]);
    const values = [
      col('run'), col('task'), col('persona'), col('item'), col('sample'), col('subject'), col('itemIndex'), col('label'),
      col('promptHash'), col('method'), rows.map((c) => (c.logprobs === null ? null : JSON.stringify(c.logprobs))),
      rows.map((c) => JSON.stringify(c.absent)), col('prediction'), rows.map((c) => (c.correct === null ? null : c.correct ? 1 : 0)),
      rows.map((c) => (c.discarded ? 1 : 0)), col('rawText'), col('attempts'), col('backend'),
    ];
    // Batches skip stored cells, so their rows are nearly always new: a plain INSERT costs half the server time of
    // ON CONFLICT's speculative insertion. A stored key fails the whole statement (nothing is written), and the
    // upsert then replaces what is there.
    try {
      await this.q('insert_cells', INSERT_CELLS, values);
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      await this.q('upsert_cells', `${INSERT_CELLS} ${ON_CONFLICT_CELLS}`, values);
    }
  }

  async doneKeys(run: string, task: string, items: string[]): Promise<Set<string>> {
    const rows = await this.q('done_keys', `SELECT c.persona, c.item FROM ${BY_ITEM('persona, item')}`, [run, task, items]);
    return new Set(rows.map((r) => cellKey(r.persona as string, r.item as string)));
  }

  async countCells(run: string, task: string, items?: string[]): Promise<{ cells: number; discarded: number }> {
    const [row] = items === undefined
      ? await this.q('count_cells', 'SELECT COUNT(*)::int AS cells, COALESCE(SUM(discarded), 0)::int AS discarded FROM cells WHERE run = $1 AND task = $2 AND sample = 0', [run, task])
      : await this.q('count_item_cells', `SELECT COUNT(*)::int AS cells, COALESCE(SUM(c.discarded), 0)::int AS discarded FROM ${BY_ITEM('discarded')}`, [run, task, items]);
    return row as { cells: number; discarded: number };
  }

  async *streamCells(run: string): AsyncIterable<CellResult> {
    for await (const r of this.cursor(`SELECT * FROM cells WHERE run = $1 ORDER BY ${CELL_ORDER}`, [run])) yield cellFromRow(r);
  }

  /** Rows of one query, PAGE_ROWS per round trip, from one snapshot (a cursor in a read-only transaction). */
  private async *cursor(text: string, values: unknown[]): AsyncIterable<Row> {
    const client = await this.pool.connect();
    let open = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      open = true;
      await client.query({ text: `DECLARE roly_stream NO SCROLL CURSOR FOR ${text}`, values });
      for (;;) {
        const { rows } = await client.query(`FETCH ${PAGE_ROWS} FROM roly_stream`);
        for (const r of rows) yield r as Row;
        if (rows.length < PAGE_ROWS) break;
      }
      await client.query('COMMIT');
      open = false;
    } finally {
      // Also when the reader stops early: never hand an open transaction back to the pool.
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  async putRecords(records: TaskRecord[]): Promise<void> {
    const rows = [...new Map(records.map((r) => [JSON.stringify([r.run, r.task, r.kind, r.key]), r])).values()];
    if (rows.length === 0) return;
    await this.q('put_records', UPSERT_RECORDS, [
      rows.map((r) => r.run), rows.map((r) => r.task), rows.map((r) => r.kind), rows.map((r) => r.key), rows.map((r) => r.unit),
      rows.map((r) => (r.flag ? 1 : 0)), rows.map((r) => JSON.stringify(r.payload)),
    ]);
  }

  async recordKeys(q: RecordQuery): Promise<Set<string>> {
    const rows = await this.q('record_keys', `SELECT key FROM records WHERE ${RECORD_WHERE}`, recordArgs(q));
    return new Set(rows.map((r) => r.key as string));
  }

  async countRecords(q: RecordQuery): Promise<{ records: number; flagged: number }> {
    const [row] = await this.q('count_records', `SELECT COUNT(*)::int AS records, COALESCE(SUM(flag), 0)::int AS flagged FROM records WHERE ${RECORD_WHERE}`, recordArgs(q));
    return row as { records: number; flagged: number };
  }

  async *streamRecords(q: RecordQuery): AsyncIterable<TaskRecord> {
    for await (const r of this.cursor(`SELECT * FROM records WHERE ${RECORD_WHERE} ORDER BY unit, key`, recordArgs(q))) yield recordFromRow(r);
  }

  async updateControl<T>(keys: string[], fn: (states: (unknown | undefined)[], now: number) => { states: unknown[]; result: T }): Promise<T> {
    // Locked in key order, so two workers updating the same rows never deadlock.
    const order = [...new Set(keys)].sort();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Rows that do not exist yet cannot be locked: create them empty first ('null'), then lock them all.
      await client.query({ name: 'control_init', text: "INSERT INTO control (key, state_json) SELECT unnest($1::text[]), 'null' ON CONFLICT (key) DO NOTHING", values: [order] });
      const { rows } = await client.query({
        name: 'control_lock',
        text: 'SELECT key, state_json, (extract(epoch from clock_timestamp()) * 1000)::float8 AS now FROM control WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE',
        values: [order],
      });
      const byKey = new Map(rows.map((r) => [r.key as string, JSON.parse(r.state_json as string) as unknown]));
      const now = Math.floor(Number((rows[0] as { now?: number } | undefined)?.now ?? Date.now()));
      const out = fn(keys.map((k) => byKey.get(k) ?? undefined), now);
      await client.query({
        name: 'control_put',
        text: 'UPDATE control SET state_json = v.s, updated_at = now() FROM unnest($1::text[], $2::text[]) AS v(k, s) WHERE control.key = v.k',
        values: [keys, out.states.map((st) => JSON.stringify(st))],
      });
      await client.query('COMMIT');
      return out.result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async readControl(key: string): Promise<unknown | undefined> {
    const [row] = await this.q('control_read', 'SELECT state_json FROM control WHERE key = $1', [key]);
    return row ? ((JSON.parse(row.state_json as string) as unknown) ?? undefined) : undefined;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const RECORD_WHERE = 'run = $1 AND task = $2 AND kind = $3 AND unit >= $4::bigint AND unit < $5::bigint';
function recordArgs(q: RecordQuery): unknown[] {
  return [q.run, q.task, q.kind, String(q.from ?? Number.MIN_SAFE_INTEGER), String(q.to ?? Number.MAX_SAFE_INTEGER)];
}

const UNIQUE_VIOLATION = '23505';

/**
 * The sample-0 cells (columns `cols`, as `c`) of the items in $3, of run $1 and task $2: one primary-key lookup per
 * distinct item. Not `item = ANY($3)`: without fresh statistics (a new table, or a new run in a database analysed
 * before it began; autovacuum analyses after a minute at best) PostgreSQL 15 estimates the run's rows at 1 and
 * filters item instead of seeking it, so every batch's lookup read all the run's rows so far (0.5 s per lookup at
 * 200k cells, O(n²) over a run). The LATERAL subquery, kept apart by OFFSET 0, has only equalities on the key's
 * leading columns, which the planner always seeks.
 */
const BY_ITEM = (cols: string) =>
  `(SELECT DISTINCT unnest($3::text[]) AS i) AS u,
   LATERAL (SELECT ${cols} FROM cells WHERE run = $1 AND task = $2 AND item = u.i COLLATE "C" AND sample = 0 OFFSET 0) AS c`;

const INSERT_CELLS = `INSERT INTO cells (run, task, persona, item, sample, subject, item_index, label, prompt_hash, method,
    logprobs_json, absent_json, prediction, correct, discarded, raw_text, attempts, backend)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::int[], $9::text[],
    $10::text[], $11::text[], $12::text[], $13::int[], $14::smallint[], $15::smallint[], $16::text[], $17::int[], $18::text[])`;
const ON_CONFLICT_CELLS = `ON CONFLICT (run, task, item, persona, sample) DO UPDATE SET
    subject=excluded.subject, item_index=excluded.item_index, label=excluded.label, prompt_hash=excluded.prompt_hash,
    method=excluded.method, logprobs_json=excluded.logprobs_json, absent_json=excluded.absent_json,
    prediction=excluded.prediction, correct=excluded.correct, discarded=excluded.discarded,
    raw_text=excluded.raw_text, attempts=excluded.attempts, backend=excluded.backend, updated_at=now()`;

const UPSERT_RECORDS = `INSERT INTO records (run, task, kind, key, unit, flag, payload_json)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::smallint[], $7::text[])
  ON CONFLICT (run, task, kind, key) DO UPDATE SET unit=excluded.unit, flag=excluded.flag, payload_json=excluded.payload_json, updated_at=now()`;

/** A connection failure as the user can act on it: the variable, the redacted address, what to change. */
function connectError(err: unknown, url: string): Error {
  const e = err as { code?: string; message?: string };
  const where = redactUrl(url);
  const fix = (() => {
    switch (e.code) {
      case 'ECONNREFUSED':
        return 'start PostgreSQL there or correct host and port';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'correct the host name';
      case '28P01':
      case '28000':
        return 'correct the user and password in the URL';
      case '3D000':
        return 'create the database (createdb) or correct its name';
      default:
        return 'check that the database is running and the URL is right';
    }
  })();
  return new InputError(STORE_ENV, `cannot use the PostgreSQL store at ${where}: ${redactMessage(e.message ?? String(err), url)}`, fix);
}

/** Never echo a password, even if a driver message quotes the URL. */
function redactMessage(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw) out = out.split(pw).join('***');
  } catch {
    // unparsable URL: nothing more to hide
  }
  return out;
}
