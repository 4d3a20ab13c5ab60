/**
 * Everything a task needs from the engine, in one import (see README "Adding a task"). A task is a folder
 * tasks/<name>/ (or any ES module listed in ROLYPLAY_TASKS) that builds a `TaskDefinition` and calls `registerTask`:
 *
 *   const MyConfig = z.object({ task: z.literal('my'), ...commonFields('items_per_batch', 8), items: z.number() }).strict();
 *   registerTask({ name: 'my', config: MyConfig, resolve: (cfg, ctx) => ({ ...ctx.common(cfg, {...}, {...}), ... }),
 *                  stages: [{ name: 'describe', plan, runBatch }, { name: 'score', plan, runBatch }], report, ... });
 *
 * The engine (experiment/, activities/, workflows/, store/, backends/) never imports a task.
 */
export { z } from 'zod';
export { registerTask, registeredTaskNames, taskFor } from '../experiment/tasks.js';
export { commonFields, PersonaSetRef } from '../experiment/schema.js';
export { InputError } from '../experiment/errors.js';
export { hashOf, findDataFile, readConfigFile, zodToInputError, type CommonSpec, type ResolveContext, type PendingDownload } from '../experiment/load.js';
export { collect, cellKey } from '../store/results.js';
export type { ResultStore, TaskRecord, RecordQuery, CellResult } from '../store/results.js';
export { BatchFailure, worstError, promptHash } from './batch.js';
export type * from './types.js';
export type * from '../backends/capabilities.js';
export type { Backend, GenerateRequest, GenerateResult, OptionScore, OptionScoreRequest, Outcome, PromptInput } from '../backends/types.js';
