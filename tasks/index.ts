/** The built-in tasks, registered with the engine. Entry points (CLI, workers, tests) import this module. */
import { registerTask } from '../experiment/tasks.js';
import { banditTask } from './bandit/task.js';
import { mmluTask } from './mmlu/task.js';
import { visionTask } from './vision/task.js';

registerTask(mmluTask);
registerTask(banditTask);
registerTask(visionTask);
