/**
 * Which result store a process uses: the worker's environment decides, never workflow input.
 *   ROLYPLAY_STORE unset or empty   → a SQLite file in each run's folder (<outDir>/results.sqlite), as always;
 *   ROLYPLAY_STORE=postgres://…     → one PostgreSQL database for every run (workers on any machine).
 * The URL (and its password) stays in the process: messages, logs and workflow history only see `label`.
 */
import { SqliteStore, sqlitePath } from './sqlite.js';
import { PostgresStore, STORE_ENV, createDatabase, isPostgresUrl, redactUrl } from './postgres.js';
import { InputError } from '../experiment/errors.js';
import type { ResultStore } from './types.js';

export * from './types.js';
export { SqliteStore, sqlitePath, PostgresStore, STORE_ENV, createDatabase, redactUrl };

/** The result stores of one process, by run. */
export interface StoreResolver {
  /** True when the store is one database shared by all machines (then a run folder holds no store). */
  readonly shared: boolean;
  /** What the store is, without secrets. */
  readonly label: string;
  /** The store of the run whose folder is `outDir` (SQLite: the file in it; PostgreSQL: the one database). */
  forRun(run: { run: string; outDir: string }): Promise<ResultStore>;
  close(): Promise<void>;
}

/** SQLite files, one connection per file per process (a worker's activities share it). */
export class SqliteStores implements StoreResolver {
  readonly shared = false;
  readonly label = 'SQLite (results.sqlite in each run folder)';
  private readonly open = new Map<string, SqliteStore>();

  async forRun(run: { outDir: string }): Promise<ResultStore> {
    return this.file(sqlitePath(run.outDir));
  }

  /** A store by file path (runs planned before stores were chosen by the worker carry this path). */
  file(path: string): SqliteStore {
    let s = this.open.get(path);
    if (!s) this.open.set(path, (s = new SqliteStore(path)));
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.open.values()) await s.close();
    this.open.clear();
  }
}

/** One PostgreSQL database (one pool) for every run. */
export class PostgresStores implements StoreResolver {
  readonly shared = true;
  readonly label: string;
  private constructor(private readonly store: PostgresStore) {
    this.label = store.label;
  }

  static async open(url: string, poolSize?: number): Promise<PostgresStores> {
    return new PostgresStores(await PostgresStore.open(url, poolSize));
  }

  async forRun(): Promise<ResultStore> {
    return this.store;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/**
 * The stores `env` asks for. A PostgreSQL URL is connected to at once, so a bad URL or an unreachable database
 * fails the worker at start with a message naming ROLYPLAY_STORE, never a retry loop of failing batches.
 */
export async function storesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<StoreResolver> {
  const value = env[STORE_ENV]?.trim();
  if (!value) return new SqliteStores();
  if (isPostgresUrl(value)) {
    const pool = env.ROLYPLAY_STORE_POOL?.trim();
    if (pool && !/^[1-9]\d*$/.test(pool)) {
      throw new InputError('ROLYPLAY_STORE_POOL', `"${pool}" is not a positive integer`, 'set it to the number of database connections per worker process (default 2), or unset it');
    }
    return PostgresStores.open(value, pool ? Number(pool) : undefined);
  }
  throw new InputError(STORE_ENV, `must be a postgres:// URL, got one starting "${value.split(/[:/]/)[0]}"`, 'set it to postgres://user:password@host:5432/database, or unset it to keep the SQLite file in each run folder');
}
