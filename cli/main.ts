#!/usr/bin/env node
/** `rolyplay`: run persona experiments on Temporal, serve workers, read results. */
import { Command, Option } from 'commander';
import '../tasks/index.js';
import { loadTaskModules } from '../experiment/tasks.js';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { runCommand } from './commands/run.js';
import { workerCommand } from './commands/worker.js';
import { statusCommand, resultsCommand } from './commands/results.js';
import { InputError } from '../experiment/errors.js';
import { EnvironmentError } from '../experiment/envErrors.js';
import { stopCommand } from './commands/stop.js';
import { reportCommand } from './commands/report.js';
import { lsCommand } from './commands/ls.js';
import { compareCommand } from './commands/compare.js';
import { uiCommand } from './commands/ui.js';
import { pauseCommand, resumeCommand, throttleCommand } from './commands/control.js';
import { toolVersion } from '../report/provenance.js';

// `rolyplay results … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command()
  .name('rolyplay')
  .description('In-context impersonation experiments (persona × item sweeps) as durable Temporal workflows')
  .showHelpAfterError();

program.version(toolVersion(), '-V, --version', 'print the rolyplaying version');

program
  .command('run')
  .description('start a run, or attach to it if it is already running, and show its progress')
  .argument('<config>', 'experiment YAML file, e.g. configs/mmlu-demo.yaml')
  .argument('[overrides...]', 'key=value overrides, e.g. data.subjects=[abstract_algebra] data.limit=8')
  .option('--no-worker', 'do not run an in-process worker (use the cluster\'s workers)')
  .option('--headless', 'local dev server without the web UI')
  .option('--detach', 'start the run and return: a background process owns the local server and worker (`rolyplay stop <run>` ends it)')
  .addOption(new Option('--background').hideHelp())
  .action(async (config: string, overrides: string[], opts) => runCommand(config, overrides, opts));

/** `--output`: the folder whose subfolders are runs. */
const outputOption = () => new Option('--output <dir>', 'base output folder').default('runs');
/** A command on one run: `<run>` (a name under --output, or a folder) and `--output`. */
const runCommandOn = (name: string) =>
  program.command(name).argument('<run>', 'run name (folder under --output) or a run folder').addOption(outputOption());

program
  .command('worker')
  .description('run a long-lived worker against $TEMPORAL_ADDRESS (an external cluster)')
  .option('--task-queue <queues>', 'comma-separated task queues', 'rolyplay,rolyplay-llm-local')
  .option('--concurrency <n>', 'activity slots on the default queue', (v) => positiveInt(v, '--concurrency'), 16)
  .option('--local-concurrency <n>', 'activity slots on the local-model queue (what the GPU holds)', (v) => positiveInt(v, '--local-concurrency'), 1)
  .action(async (opts) => workerCommand(opts));

runCommandOn('status')
  .description('progress of a run: cells done / total, from its result store and (if reachable) its workflow')
  .action(async (run: string, opts) => statusCommand(run, opts));

runCommandOn('stop')
  .description('stop a local run (its background or foreground owner, or a dev server left behind); `run` again resumes it')
  .action(async (run: string, opts) => stopCommand(run, opts));

runCommandOn('results')
  .description('per-persona results of a run')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
  .action(async (run: string, opts) => resultsCommand(run, opts));

runCommandOn('report')
  .description('write the run\'s report.html (figures, statistics, provenance) and print its path')
  .action(async (run: string, opts) => reportCommand(run, opts));

program
  .command('ls')
  .description('the runs in the output folder: task, model, cells, state')
  .addOption(outputOption())
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(async (opts) => lsCommand(opts));

program
  .command('compare')
  .description('per-persona differences between two runs (B − A) on the same items, with paired 95 % CIs')
  .argument('<runA>', 'run name or folder')
  .argument('<runB>', 'run name or folder')
  .addOption(outputOption())
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(async (a: string, b: string, opts) => compareCommand(a, b, opts));

runCommandOn('ui')
  .description('serve the Temporal web UI over a finished local run\'s history (its temporal.db), until Ctrl-C')
  .option('--port <n>', 'web UI port (default: a free one)', (v) => positiveInt(v, '--port'))
  .action(async (run: string, opts) => uiCommand(run, opts));

runCommandOn('pause')
  .description('pause a running run: no new batches start, those in flight finish; `rolyplay resume` continues it')
  .option('--reason <text>', 'shown in status and the web UI')
  .action(async (run: string, opts) => pauseCommand(run, opts));

runCommandOn('resume')
  .description('resume a paused run (paused by you, a used budget or the provider\'s quota), optionally with a higher budget')
  .option('--budget-usd <n>', 'new budget in US dollars', (v) => positiveNumber(v, '--budget-usd'))
  .option('--budget-requests <n>', 'new budget in requests', (v) => positiveInt(v, '--budget-requests'))
  .option('--budget-tokens <n>', 'new budget in tokens', (v) => positiveInt(v, '--budget-tokens'))
  .action(async (run: string, opts) => resumeCommand(run, opts));

runCommandOn('throttle')
  .description('change a running run\'s request rate (shared by all its workers) and how much runs at once')
  .option('--rpm <n>', 'requests per minute for the run\'s API key and model, across all workers', (v) => positiveInt(v, '--rpm'))
  .option('--tpm <n>', 'tokens per minute, likewise', (v) => positiveInt(v, '--tpm'))
  .option('--batches <n>', 'batches in flight per shard', (v) => positiveInt(v, '--batches'))
  .option('--shards <n>', 'shards in flight', (v) => positiveInt(v, '--shards'))
  .action(async (run: string, opts) => throttleCommand(run, opts));

function positiveNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(flag, `"${v}" is not a positive number`, `pass e.g. ${flag} 5`);
  return n;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(flag, `"${v}" is not a positive integer`, `pass e.g. ${flag} 4`);
  return n;
}

loadTaskModules()
  .then(() => program.parseAsync(process.argv))
  .catch((err: unknown) => {
  if (err instanceof EnvironmentError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof InputError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  // A failed run only says "Workflow execution failed": the reason (which names the fix) is its innermost cause.
  if (err instanceof WorkflowFailedError) {
    let root: Error = err;
    while (root.cause instanceof Error) root = root.cause;
    process.stderr.write(`error: the run failed: ${root.message}\n`);
    // Bad input and rejected requests (e.g. a wrong API key) are the user's to fix, like a bad config.
    process.exit(root instanceof ApplicationFailure && ['InvalidInput', 'BackendRejected'].includes(root.type ?? '') ? 2 : 1);
  }
  process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

