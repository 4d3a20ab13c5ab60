/**
 * The ResultStore contract, one suite run against both implementations: SQLite (a file in a temp folder) and
 * PostgreSQL (the suite's real database). Every run name is fresh, so the shared database needs no cleanup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PostgresStores, SqliteStore, cellKey, collect, storesFromEnv, PAGE_ROWS, type CellResult, type ResultStore, type TaskRecord } from '../store/results.js';
import { describePostgres, postgresUrl } from './support/postgres.js';
import Database from 'better-sqlite3';
import { countGames, gameKey, loadGames, storedGameKeys } from '../tasks/bandit/records.js';
import { tmpDir } from './support/harness.js';

function cell(run: string, persona: string, subject: string, itemIndex: number, over: Partial<CellResult> = {}): CellResult {
  return {
    run,
    task: 'mmlu',
    persona,
    item: `${subject}/test/${itemIndex}`,
    sample: 0,
    subject,
    itemIndex,
    label: itemIndex % 4,
    promptHash: `h${itemIndex}`,
    method: 'logits',
    logprobs: [-0.1, -1.5, -2.25, -3],
    absent: [],
    prediction: 0,
    correct: itemIndex % 4 === 0,
    discarded: false,
    rawText: null,
    attempts: 1,
    backend: 'test',
    ...over,
  };
}

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function contract(name: string, open: () => Promise<ResultStore>, openSecond: () => Promise<ResultStore>) {
  describe(`ResultStore contract: ${name}`, () => {
    let store: ResultStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });
    const fresh = () => `run-${randomUUID()}`;

    it('saves, replaces and lists runs', async () => {
      const run = fresh();
      expect(await store.getRun(run)).toBeUndefined();
      await store.saveRun({ run, task: 'mmlu', specHash: 'a', spec: { nested: { x: [1, 2.5, 'ü'] } }, totalCells: 10 });
      await store.saveRun({ run, task: 'mmlu', specHash: 'b', spec: { nested: { x: [3] } }, totalCells: 12 });
      expect(await store.getRun(run)).toEqual({ run, task: 'mmlu', specHash: 'b', spec: { nested: { x: [3] } }, totalCells: 12 });
      expect(await store.runNames()).toContain(run);
    });

    it('tells when a run was planned and when its last cell or record of the task was stored', async () => {
      const run = fresh();
      expect(await store.runTimes(run, 'mmlu')).toEqual({ started: null, finished: null });
      const before = Date.now() - 1000;
      await store.saveRun({ run, task: 'mmlu', specHash: 'a', spec: {}, totalCells: 1 });
      const planned = await store.runTimes(run, 'mmlu');
      expect(planned.finished).toBeNull();
      expect(Date.parse(planned.started!)).toBeGreaterThanOrEqual(before);
      await store.upsertCells([cell(run, 'poet', 'anatomy', 0)]);
      const cellAt = (await store.runTimes(run, 'mmlu')).finished!;
      expect(Date.parse(cellAt)).toBeGreaterThanOrEqual(Date.parse(planned.started!) - 1000);
      // Records count for their own task only.
      await store.putRecords([{ run, task: 'bandit', kind: 'game', key: 'k', unit: 0, flag: false, payload: {} }]);
      expect((await store.runTimes(run, 'mmlu')).finished).toBe(cellAt);
      expect((await store.runTimes(run, 'bandit')).finished! >= cellAt).toBe(true);
    });

    it('upserts cells idempotently and keeps every field exactly', async () => {
      const run = fresh();
      const tricky = cell(run, 'poet', 'anatomy', 1, {
        logprobs: [-1e-300, 0.1 + 0.2, -123.456789012345678, -Number.MAX_VALUE],
        absent: ['C', 'D"x', 'a,b', '{}'],
        prediction: null,
        correct: null,
        discarded: true,
        rawText: 'quote " backslash \\ brace {a,b} comma, newline\nNULL null ü 😀',
        method: 'top_logprobs_partial',
        attempts: 11,
      });
      await store.upsertCells([tricky, cell(run, 'poet', 'anatomy', 2)]);
      await store.upsertCells([tricky, cell(run, 'poet', 'anatomy', 2)]);
      const rows = await collect(store.streamCells(run));
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual(tricky);
      // A retry that scores differently replaces the cell, never adds one.
      await store.upsertCells([{ ...tricky, prediction: 3, correct: true, discarded: false, rawText: null }]);
      const again = await collect(store.streamCells(run));
      expect(again).toHaveLength(2);
      expect(again[0]).toMatchObject({ prediction: 3, correct: true, discarded: false, rawText: null, attempts: 11 });
      // Within one call, the last of duplicate keys wins (as a loop of upserts would).
      await store.upsertCells([cell(run, 'x', 'anatomy', 5, { attempts: 1 }), cell(run, 'x', 'anatomy', 5, { attempts: 2 })]);
      expect((await collect(store.streamCells(run))).find((c) => c.persona === 'x')?.attempts).toBe(2);
      await store.upsertCells([]);
    });

    it('answers done-keys and counts for sample 0 of the given items only', async () => {
      const run = fresh();
      await store.upsertCells([
        cell(run, 'a', 'anatomy', 0),
        cell(run, 'b', 'anatomy', 0, { discarded: true, prediction: null, correct: null }),
        cell(run, 'a', 'anatomy', 1),
        cell(run, 'a', 'anatomy', 1, { sample: 1 }),
        cell(run, 'a', 'virology', 0, { task: 'other' }),
      ]);
      const done = await store.doneKeys(run, 'mmlu', ['anatomy/test/0', 'anatomy/test/9']);
      expect([...done].sort()).toEqual([cellKey('a', 'anatomy/test/0'), cellKey('b', 'anatomy/test/0')].sort());
      expect(await store.doneKeys(run, 'mmlu', [])).toEqual(new Set());
      expect(await store.countCells(run, 'mmlu')).toEqual({ cells: 3, discarded: 1 });
      expect(await store.countCells(run, 'mmlu', ['anatomy/test/0'])).toEqual({ cells: 2, discarded: 1 });
      expect(await store.countCells(run, 'mmlu', [])).toEqual({ cells: 0, discarded: 0 });
      expect(await store.countCells(fresh(), 'mmlu')).toEqual({ cells: 0, discarded: 0 });
      // An item named twice counts once.
      expect(await store.countCells(run, 'mmlu', ['anatomy/test/0', 'anatomy/test/0'])).toEqual({ cells: 2, discarded: 1 });
      expect(await store.doneKeys(run, 'mmlu', ['anatomy/test/0', 'anatomy/test/0'])).toEqual(done);
    });

    it("looks a batch's items up without reading the rest of the run, statistics or not", async () => {
      // A new run's rows are ones the database has no statistics for: a store whose lookup then reads every row of
      // the run (PostgreSQL 15 filtering `item = ANY(…)` instead of seeking it) gets slower with every batch.
      const run = fresh();
      const personas = Array.from({ length: 50 }, (_, p) => `persona ${p}`);
      for (let s = 0; s < 10; s++) {
        const rows: CellResult[] = [];
        for (let i = 0; i < 128; i++) for (const p of personas) rows.push(cell(run, p, `subject${s}`, i));
        await store.upsertCells(rows);
      }
      const items = Array.from({ length: 64 }, (_, i) => `subject3/test/${i}`);
      const median = async (f: () => Promise<unknown>) => {
        const ms: number[] = [];
        for (let k = 0; k < 7; k++) {
          const t = performance.now();
          await f();
          ms.push(performance.now() - t);
        }
        return ms.sort((a, b) => a - b)[3] as number;
      };
      expect((await store.doneKeys(run, 'mmlu', items)).size).toBe(64 * 50);
      expect(await store.countCells(run, 'mmlu', items)).toEqual({ cells: 64 * 50, discarded: 0 });
      // Against reading all 64,000 rows once (the whole run's count): relative, so a loaded machine slows both.
      const whole = await median(() => store.countCells(run, 'mmlu'));
      const lookup = await median(() => store.doneKeys(run, 'mmlu', items));
      const count = await median(() => store.countCells(run, 'mmlu', items));
      expect(lookup, `doneKeys ${lookup.toFixed(1)} ms, whole-run count ${whole.toFixed(1)} ms`).toBeLessThan(whole / 2);
      expect(count, `countCells of the items ${count.toFixed(1)} ms, whole-run count ${whole.toFixed(1)} ms`).toBeLessThan(whole / 2);
    });

    it('streams a run in byte order of subject, then item index, persona, sample, across pages', async () => {
      const run = fresh();
      const personas = ['Zebra', 'apple', 'Äpfel', 'émile', 'a b', 'a'];
      const subjects = ['b_subject', 'B_subject', 'a_subject'];
      const n = Math.ceil((PAGE_ROWS + 7) / (personas.length * subjects.length));
      const cells: CellResult[] = [];
      for (const s of subjects) for (let i = n - 1; i >= 0; i--) for (const p of personas) cells.push(cell(run, p, s, i));
      await store.upsertCells(cells);
      await store.upsertCells([cell(fresh(), 'other run', 'a_subject', 0)]);
      const rows = await collect(store.streamCells(run));
      expect(rows.length).toBe(cells.length);
      expect(rows.length).toBeGreaterThan(PAGE_ROWS);
      const expected = [...cells].sort((x, y) => bytewise(x.subject, y.subject) || x.itemIndex - y.itemIndex || bytewise(x.persona, y.persona));
      expect(rows.map((c) => `${c.subject}|${c.itemIndex}|${c.persona}`)).toEqual(expected.map((c) => `${c.subject}|${c.itemIndex}|${c.persona}`));
    });

    it('keeps task records: upsert by key, keys and counts by unit range, stream in unit then key order', async () => {
      const run = fresh();
      const rec = (key: string, unit: number, flag: boolean, payload: unknown): TaskRecord => ({ run, task: 'bandit', kind: 'game', key, unit, flag, payload });
      const payload = { trials: [{ V: 0.1 + 0.2, ok: true, none: null, text: 'a"b\\c' }], mu: [-1e-12, 12345.678] };
      await store.putRecords([rec('["b",3]', 3, false, payload), rec('["a",3]', 3, true, {}), rec('["a",1]', 1, false, [1]), rec('["a",7]', 7, false, 'x')]);
      await store.putRecords([rec('["a",3]', 3, false, { replaced: true }), { ...rec('["a",3]', 3, true, {}), kind: 'other' }]);
      expect([...(await store.recordKeys({ run, task: 'bandit', kind: 'game', from: 1, to: 7 }))].sort()).toEqual(['["a",1]', '["a",3]', '["b",3]']);
      expect(await store.countRecords({ run, task: 'bandit', kind: 'game' })).toEqual({ records: 4, flagged: 0 });
      await store.putRecords([rec('["b",3]', 3, true, payload)]);
      expect(await store.countRecords({ run, task: 'bandit', kind: 'game', from: 3, to: 4 })).toEqual({ records: 2, flagged: 1 });
      expect(await store.countRecords({ run, task: 'bandit', kind: 'game', from: 8 })).toEqual({ records: 0, flagged: 0 });
      const all = await collect(store.streamRecords({ run, task: 'bandit', kind: 'game' }));
      expect(all.map((r) => r.key)).toEqual(['["a",1]', '["a",3]', '["b",3]', '["a",7]']);
      expect(all[1]?.payload).toEqual({ replaced: true });
      expect(all[2]).toEqual(rec('["b",3]', 3, true, payload));
    });

    it('keeps run-control rows: read-modify-write of several keys at once, a result back, the store clock', async () => {
      const a = `rate:${randomUUID()}`;
      const b = `usage:${randomUUID()}`;
      expect(await store.readControl(a)).toBeUndefined();
      const t0 = Date.now();
      const seen = await store.updateControl([a, b], (states, now) => {
        expect(states).toEqual([undefined, undefined]);
        expect(Math.abs(now - t0)).toBeLessThan(60_000);
        return { states: [{ n: 1, s: 'ü"' }, { list: [1.5] }], result: 'first' };
      });
      expect(seen).toBe('first');
      const again = await store.updateControl([b, a], (states) => ({ states: [{ list: [...((states[0] as { list: number[] }).list), 2] }, states[1]], result: states }));
      expect(again).toEqual([{ list: [1.5] }, { n: 1, s: 'ü"' }]);
      expect(await store.readControl(a)).toEqual({ n: 1, s: 'ü"' });
      expect(await store.readControl(b)).toEqual({ list: [1.5, 2] });
      // A throwing update changes nothing.
      await expect(store.updateControl([a], () => { throw new Error('boom'); })).rejects.toThrow('boom');
      expect(await store.readControl(a)).toEqual({ n: 1, s: 'ü"' });
    });

    it('serialises run-control updates from two connections: no increment is lost', async () => {
      const key = `count:${randomUUID()}`;
      const other = await openSecond();
      try {
        const inc = (s: ResultStore) => s.updateControl([key], ([st]) => ({ states: [{ n: ((st as { n?: number } | undefined)?.n ?? 0) + 1 }], result: undefined }));
        await Promise.all(Array.from({ length: 60 }, (_, i) => inc(i % 2 ? store : other)));
        expect(await store.readControl(key)).toEqual({ n: 60 });
      } finally {
        await other.close();
      }
    });

    it('takes concurrent writes of the same cells from two connections without losing or doubling one', async () => {
      const run = fresh();
      const other = await openSecond();
      try {
        const batch = (attempt: number) => Array.from({ length: 200 }, (_, i) => cell(run, `p${i % 10}`, 'anatomy', Math.floor(i / 10), { attempts: attempt }));
        await Promise.all([1, 2, 3, 4].map((k) => (k % 2 ? store : other).upsertCells(batch(k))));
        expect(await store.countCells(run, 'mmlu')).toEqual({ cells: 200, discarded: 0 });
        expect(await other.countCells(run, 'mmlu')).toEqual({ cells: 200, discarded: 0 });
      } finally {
        await other.close();
      }
    });
  });
}

const sqliteFile = join(tmpDir('rolyplay-contract-'), 'results.sqlite');
contract('SQLite', async () => new SqliteStore(sqliteFile), async () => new SqliteStore(sqliteFile));

describe('SQLite files of older versions', () => {
  it('move their bandit tables into task records, so old runs report and resume as before', async () => {
    const file = join(tmpDir('rolyplay-legacy-'), 'results.sqlite');
    // The bandit tables as the previous version created and filled them.
    const old = new Database(file);
    old.exec(`CREATE TABLE bandit_games (run TEXT NOT NULL, persona TEXT NOT NULL, game INTEGER NOT NULL, mu1 REAL NOT NULL, mu2 REAL NOT NULL,
        abandoned INTEGER NOT NULL, trials INTEGER NOT NULL, backend TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (run, persona, game));
      CREATE TABLE bandit_trials (run TEXT NOT NULL, persona TEXT NOT NULL, game INTEGER NOT NULL, trial INTEGER NOT NULL,
        v REAL NOT NULL, ru REAL NOT NULL, v_tu REAL NOT NULL, action1 INTEGER NOT NULL, regret REAL NOT NULL, reward REAL NOT NULL,
        mu1 REAL NOT NULL, mu2 REAL NOT NULL, logprob1 REAL, logprob2 REAL, attempts INTEGER NOT NULL, raw_text TEXT, prompt_hash TEXT NOT NULL,
        PRIMARY KEY (run, persona, game, trial));
      INSERT INTO bandit_games VALUES ('b', 'poet', 1, 0.5, -1.25, 0, 2, 'x', 't'), ('b', 'poet', 0, 0.1, 0.2, 1, 0, 'x', 't');
      INSERT INTO bandit_trials VALUES ('b', 'poet', 1, 1, 0.3, 0.4, 0.75, 0, 1.5, -2.5, 0.5, -1.25, NULL, NULL, 3, '2', 'h1'),
                                       ('b', 'poet', 1, 0, 0, 1.5, 0, 1, 0, 0.25, 0.5, -1.25, -0.5, -1, 1, NULL, 'h0');`);
    old.close();
    const store = new SqliteStore(file);
    try {
      expect(await countGames(store, 'b')).toEqual({ games: 2, abandoned: 1 });
      expect(await loadGames(store, 'b')).toEqual([
        { run: 'b', persona: 'poet', game: 0, mu1: 0.1, mu2: 0.2, abandoned: true, backend: 'x', trials: [] },
        {
          run: 'b', persona: 'poet', game: 1, mu1: 0.5, mu2: -1.25, abandoned: false, backend: 'x',
          trials: [
            { trial: 0, V: 0, RU: 1.5, 'V/TU': 0, action1: true, regret: 0, reward: 0.25, mu1: 0.5, mu2: -1.25, logprob1: -0.5, logprob2: -1, attempts: 1, rawText: null, promptHash: 'h0' },
            { trial: 1, V: 0.3, RU: 0.4, 'V/TU': 0.75, action1: false, regret: 1.5, reward: -2.5, mu1: 0.5, mu2: -1.25, logprob1: null, logprob2: null, attempts: 3, rawText: '2', promptHash: 'h1' },
          ],
        },
      ]);
      expect([...(await storedGameKeys(store, 'b', 1, 2))]).toEqual([gameKey('poet', 1)]);
    } finally {
      await store.close();
    }
    // Once: the old tables are gone, and opening again changes nothing.
    const again = new SqliteStore(file);
    expect(await countGames(again, 'b')).toEqual({ games: 2, abandoned: 1 });
    await again.close();
  });
});

describePostgres('PostgreSQL store', () => {
  contract('PostgreSQL', async () => (await PostgresStores.open(postgresUrl())).forRun(), async () => (await PostgresStores.open(postgresUrl())).forRun());

  describe('ROLYPLAY_STORE errors name the variable and the fix, fail fast and never show the password', () => {
    const url = () => new URL(postgresUrl());
    const expectError = async (value: string, ...parts: string[]) => {
      const t0 = Date.now();
      const err = await storesFromEnv({ ROLYPLAY_STORE: value }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, `no error for ${value}`).toBeInstanceOf(Error);
      expect(Date.now() - t0).toBeLessThan(5000);
      const message = (err as Error).message;
      expect(message).toContain('ROLYPLAY_STORE');
      expect(message).toContain('Fix:');
      for (const p of parts) expect(message).toContain(p);
      const pw = url().password;
      expect(message).not.toContain(pw);
      expect(message).not.toContain('hunter2-secret');
      return message;
    };

    it('rejects a pool size that is not a positive integer', async () => {
      const err = await storesFromEnv({ ROLYPLAY_STORE: postgresUrl(), ROLYPLAY_STORE_POOL: '0' }).then(() => undefined, (e: Error) => e);
      expect(err?.message).toContain('ROLYPLAY_STORE_POOL: "0" is not a positive integer');
      const ok = await storesFromEnv({ ROLYPLAY_STORE: postgresUrl(), ROLYPLAY_STORE_POOL: '3' });
      expect(ok.shared).toBe(true);
      await ok.close();
    });

    it('rejects a value that is not a postgres URL', async () => {
      await expectError('mysql://root:hunter2-secret@127.0.0.1/x', 'must be a postgres:// URL', 'mysql');
      await expectError('/srv/results.sqlite', 'must be a postgres:// URL');
    });

    it.each([
      ['a URL without a database', (u: URL) => void (u.pathname = '/'), ['names no database']],
      // Nothing listens on port 1 of the loopback.
      ['a refused connection', (u: URL) => void (u.port = '1'), ['cannot use the PostgreSQL store at postgres://127.0.0.1:1/', 'start PostgreSQL there']],
      ['a wrong password', (u: URL) => void (u.password = 'hunter2-secret'), ['correct the user and password']],
      ['a missing database', (u: URL) => void (u.pathname = '/no_such_db'), ['create the database']],
    ] as const)('reports %s', async (_what, change, parts) => {
      const u = url();
      change(u);
      await expectError(u.toString(), ...parts);
    });
  });
});
