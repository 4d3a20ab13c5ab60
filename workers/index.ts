/**
 * Worker wiring. The default task queue runs the workflows plus plan/reduce and API-backed batches; local-model
 * batches go to their own queue so GPU machines can serve them with as many slots as the GPU holds.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import '../tasks/index.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { BackendRegistry } from '../backends/registry.js';
import { storesFromEnv, type StoreResolver } from '../store/results.js';
import { PACKAGE_ROOT, DEFAULT_TASK_QUEUE, LOCAL_LLM_TASK_QUEUE } from '../experiment/load.js';

export { DEFAULT_TASK_QUEUE, LOCAL_LLM_TASK_QUEUE };

export const WORKFLOWS_PATH = join(PACKAGE_ROOT, 'dist', 'workflows', 'index.js');

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundle the workflow code once per process (webpack takes seconds; every worker of the process reuses it). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  if (!existsSync(WORKFLOWS_PATH)) throw new Error(`${WORKFLOWS_PATH} is missing: run \`npm run build\` first`);
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error(m: string) { console.error(m); }, log() {} };

let runtimeInstalled = false;
/**
 * Worker logs at WARN (state changes at INFO would drown the progress bar); ROLYPLAY_LOG_LEVEL overrides.
 * With `logFile` (`rolyplay run`), they go to that file and only errors reach the console: a 429 storm logs a
 * warning per retried batch, which belongs in the run folder, not across the progress bar.
 * Must run before the first NativeConnection of the process; the first call decides.
 */
export function installRuntime(opts: { logFile?: string } = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    const level = (process.env.ROLYPLAY_LOG_LEVEL ?? 'WARN').toUpperCase() as 'WARN';
    // The local-model queue serves activities only, by design: its "no workflows registered" warning is noise.
    const quiet = (message: string) => message.startsWith('No workflows registered');
    const console_ = new DefaultLogger(opts.logFile ? 'ERROR' : level);
    const toFile = (entry: LogEntry) => {
      const meta = entry.meta ? ` ${JSON.stringify(entry.meta, (_k, v) => (v instanceof Error ? { message: v.message, type: (v as { type?: string }).type } : v))}` : '';
      try {
        appendFileSync(opts.logFile as string, `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${meta}\n`);
      } catch {
        // A log line must never fail the worker.
      }
    };
    if (opts.logFile) mkdirSync(dirname(opts.logFile), { recursive: true });
    Runtime.install({
      // Core (Rust) logs, e.g. gRPC reconnect WARNs when the server stops, go through the same logger (so into
      // the log file with `logFile`), not straight to the console across the progress bar.
      telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } },
      logger: new DefaultLogger(level, (entry) => {
        if (quiet(entry.message)) return;
        if (opts.logFile) toFile(entry);
        console_.log(entry.level, entry.message, entry.meta);
      }),
    });
  } catch {
    // Already installed by the embedding program: keep its logger.
  }
}

export interface WorkerSetup {
  connection: NativeConnection;
  namespace?: string;
  /** Queues to serve: the default queue (workflows + activities) and/or the local-model queue (activities). */
  taskQueues?: string[];
  /** Activity slots per queue. */
  concurrency?: number;
  /** Local-model activity slots (one session per process; 1 fits a CPU). */
  localConcurrency?: number;
  backends?: BackendRegistry;
  /** The result stores; default: what this process's ROLYPLAY_STORE says (checked here, so a bad one fails at start). */
  stores?: StoreResolver;
  deps?: Partial<ActivityDeps>;
  /** Time in-flight batches get to record progress on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

export async function createWorkers(setup: WorkerSetup): Promise<{ workers: Worker[]; backends: BackendRegistry; stores: StoreResolver }> {
  installRuntime();
  const backends = setup.backends ?? new BackendRegistry();
  const stores = setup.stores ?? (await storesFromEnv());
  const activities = createActivities({ backends, stores, ...setup.deps });
  const queues = setup.taskQueues ?? [DEFAULT_TASK_QUEUE, LOCAL_LLM_TASK_QUEUE];
  const workers: Worker[] = [];
  for (const taskQueue of queues) {
    const local = taskQueue === LOCAL_LLM_TASK_QUEUE;
    workers.push(
      await Worker.create({
        connection: setup.connection,
        namespace: setup.namespace ?? 'default',
        taskQueue,
        activities,
        ...(local ? {} : { workflowBundle: await workflowBundle() }),
        maxConcurrentActivityTaskExecutions: local ? setup.localConcurrency ?? 1 : setup.concurrency ?? 16,
        shutdownGraceTime: setup.shutdownGraceTime ?? '5s',
      }),
    );
  }
  return { workers, backends, stores };
}

/** Run workers until `signal` aborts (or one fails), then shut all down. */
export async function runWorkers(workers: Worker[], signal?: AbortSignal): Promise<void> {
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    stop();
  }
}
