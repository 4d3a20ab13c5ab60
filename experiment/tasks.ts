/**
 * The engine's task registry. Tasks register themselves (tasks/index.ts registers the built-in ones and is
 * imported by the entry points: CLI, workers, tests); the config union, config resolution, planning, batches and
 * reports look a task up here by its config `task`. Nothing in the engine names a task: adding one is
 * `registerTask(myTask)` in the task's own folder.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { InputError } from './errors.js';
import type { TaskDefinition } from '../tasks/types.js';
import type { Capability } from '../backends/catalog.js';
import { writeUsage } from '../activities/usage.js';
import type { ExperimentSpec } from './load.js';

// Any task's definition, whatever its spec and config types (checked where the task is defined).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTask = TaskDefinition<any, any>;

const tasks = new Map<string, AnyTask>();
let union: z.ZodType | undefined;

/** Register a task under `task.name` (again with the same definition: no-op; a different one: an error). */
export function registerTask(task: AnyTask): void {
  const had = tasks.get(task.name);
  if (had && had !== task) throw new Error(`a different task named "${task.name}" is already registered`);
  const shape = task.config.shape as Record<string, unknown>;
  const literal = shape.task as z.ZodLiteral<string> | undefined;
  if (!(literal instanceof z.ZodLiteral) || !literal.values.has(task.name)) {
    throw new Error(`task "${task.name}": its config schema needs \`task: z.literal('${task.name}')\``);
  }
  if (task.stages.length === 0) throw new Error(`task "${task.name}" has no stages`);
  if (task.roles && Object.keys(task.roles).length === 0) throw new Error(`task "${task.name}" declares no model role`);
  tasks.set(task.name, task);
  union = undefined;
}

export function registeredTaskNames(): string[] {
  return [...tasks.keys()];
}

/** The task of a config `task` or of a resolved spec. */
export function taskNamed(name: string): TaskDefinition<ExperimentSpec> {
  const t = tasks.get(name);
  if (!t) {
    throw new InputError('task', `unknown task "${name}"`, tasks.size ? `use one of ${registeredTaskNames().map((n) => JSON.stringify(n)).join(', ')}` : 'import the tasks (tasks/index.js) in the entry point');
  }
  let w = withUsage.get(t);
  if (!w) {
    const task = t as TaskDefinition<ExperimentSpec>;
    // Every task's metrics.json gets the run's API usage per persona (run control, issue 11), whoever writes it.
    w = {
      ...task,
      report: async (spec, store, outDir) => {
        const r = await task.report(spec, store, outDir);
        if (outDir !== null) await writeUsage(store, spec, r.files);
        return r;
      },
    };
    withUsage.set(t, w);
  }
  return w;
}
const withUsage = new WeakMap<AnyTask, TaskDefinition<ExperimentSpec>>();

/** A task's model roles (the first is the primary one: what `model:` names). */
export function rolesOf(task: Pick<TaskDefinition<ExperimentSpec>, 'roles'>): Record<string, readonly Capability[]> {
  return task.roles ?? DEFAULT_ROLES;
}
const DEFAULT_ROLES = { llm: ['OptionScorer', 'Generator'] } as const satisfies Record<string, readonly Capability[]>;

export function taskFor(spec: { task: string }): TaskDefinition<ExperimentSpec> {
  return taskNamed(spec.task);
}

/** The experiment config: the registered tasks' schemas, discriminated by `task`. */
export function experimentConfigSchema(): z.ZodType {
  if (union) return union;
  const options = [...tasks.values()].map((t) => t.config);
  if (options.length === 0) throw new Error('no task is registered: import tasks/index.js in the entry point');
  union = z.discriminatedUnion('task', options as [z.ZodObject, ...z.ZodObject[]]);
  return union;
}

/**
 * Tasks outside this package: ROLYPLAY_TASKS lists ES modules (paths or package names, comma-separated) that call
 * `registerTask` when imported. The CLI loads them before any command, so its workers, `run` and `results` know them.
 */
export async function loadTaskModules(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const specs = (env.ROLYPLAY_TASKS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const spec of specs) {
    const url = spec.startsWith('.') || isAbsolute(spec) ? pathToFileURL(resolve(spec)).href : spec;
    try {
      await import(url);
    } catch (err) {
      throw new InputError('ROLYPLAY_TASKS', `cannot load task module ${spec}: ${(err as Error).message.split('\n')[0]}`, 'list ES modules that call registerTask (paths or package names, comma-separated), or unset ROLYPLAY_TASKS');
    }
  }
}
