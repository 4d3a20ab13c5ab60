/** The tasks the engine can run, by config `task`. */
import type { BanditSpec, ExperimentSpec, MmluSpec } from '../experiment/load.js';
import { banditTask } from './bandit/task.js';
import { mmluTask } from './mmlu/task.js';
import type { TaskDefinition } from './types.js';

const TASKS: { mmlu: TaskDefinition<MmluSpec>; bandit: TaskDefinition<BanditSpec> } = { mmlu: mmluTask, bandit: banditTask };

export function taskFor(spec: ExperimentSpec): TaskDefinition<ExperimentSpec> {
  return TASKS[spec.task] as TaskDefinition<ExperimentSpec>;
}
