/** The tasks the engine can run, by config `task`. */
import type { BanditSpec, ExperimentSpec, MmluSpec } from '../experiment/load.js';
import { banditTask } from './bandit/task.js';
import { mmluTask } from './mmlu/task.js';
import type { TaskDefinition } from './types.js';
import { writeUsage } from '../activities/usage.js';

const TASKS: { mmlu: TaskDefinition<MmluSpec>; bandit: TaskDefinition<BanditSpec> } = { mmlu: mmluTask, bandit: banditTask };

export function taskFor(spec: ExperimentSpec): TaskDefinition<ExperimentSpec> {
  const task = TASKS[spec.task] as TaskDefinition<ExperimentSpec>;
  // Every task's metrics.json gets the run's API usage per persona (run control, issue 11), whoever writes it.
  return {
    ...task,
    report: async (s, store, outDir) => {
      const r = await task.report(s, store, outDir);
      if (outDir !== null) await writeUsage(store, s, r.files);
      return r;
    },
  };
}
