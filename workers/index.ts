/**
 * Worker wiring. The default task queue runs the workflows plus plan/reduce and API-backed batches; local-model
 * batches go to their own queue so GPU machines can serve them with as many slots as the GPU holds.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { BackendRegistry } from '../backends/registry.js';
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
/** Worker logs at WARN (state changes at INFO would drown the progress bar); ROLYPLAY_LOG_LEVEL overrides.
 * Must run before the first NativeConnection of the process. */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    const level = (process.env.ROLYPLAY_LOG_LEVEL ?? 'WARN').toUpperCase() as 'WARN';
    // The local-model queue serves activities only, by design: its "no workflows registered" warning is noise.
    const quiet = (message: string) => message.startsWith('No workflows registered');
    const base = new DefaultLogger(level);
    Runtime.install({ logger: new DefaultLogger(level, (entry) => !quiet(entry.message) && base.log(entry.level, entry.message, entry.meta)) });
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
  deps?: Partial<ActivityDeps>;
  /** Time in-flight batches get to record progress on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

export async function createWorkers(setup: WorkerSetup): Promise<{ workers: Worker[]; backends: BackendRegistry }> {
  installRuntime();
  const backends = setup.backends ?? new BackendRegistry();
  const activities = createActivities({ backends, ...setup.deps });
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
  return { workers, backends };
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
