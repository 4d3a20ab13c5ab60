/** `rolyplay run <config> [key=value ...]` */
import { dirname, resolve } from 'node:path';
import { setMaxListeners } from 'node:events';
import cliProgress from 'cli-progress';
import { loadExperimentOnline, modelWarningBanner, readConfigFile } from '../../experiment/load.js';
import { connectCluster } from '../connect.js';
import { queryProgress, startOrAttach, workflowIdFor } from '../runs.js';
import { createWorkers, runWorkers } from '../../workers/index.js';
import { printTable } from '../table.js';
import { runSummary } from '../summary.js';
import { writeRunReportOrError } from '../../report/index.js';
import type { ExperimentResult } from '../../workflows/types.js';
import { storesFromEnv } from '../../store/results.js';
import { taskFor } from '../../tasks/registry.js';

export async function runCommand(configFile: string, overrides: string[], opts: { worker: boolean; headless?: boolean; detach?: boolean }): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  // Validate locally first: a bad config fails in milliseconds, before any server starts.
  // (A hub model candidate is downloaded here, with a progress bar, before the server starts.)
  const spec = await loadExperimentOnline(configFile, overrides);
  const warning = modelWarningBanner(spec);
  if (warning) log(warning);
  const raw = readConfigFile(configFile);
  // ROLYPLAY_STORE is checked (and a database connected to) before anything starts.
  const stores = await storesFromEnv();
  const cluster = await connectCluster({ outDir: spec.outDir, headless: opts.headless ?? false, log });
  const local = cluster.devServer !== undefined;
  const stopWorkers = new AbortController();
  // Every client RPC of the run (progress queries, the result's long polls) listens on this signal.
  setMaxListeners(0, stopWorkers.signal);
  let workersDone: Promise<void> = Promise.resolve();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('\ninterrupted: stopping (the run stays in the Temporal db; `rolyplay run` again resumes it)');
    stopWorkers.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    if (opts.worker && (local || process.env.TEMPORAL_ADDRESS)) {
      const { workers } = await createWorkers({ connection: await cluster.workerConnection(), namespace: cluster.namespace, stores });
      workersDone = runWorkers(workers, stopWorkers.signal);
      workersDone.catch((err) => {
        log(`worker stopped: ${(err as Error).message}`);
        stopWorkers.abort();
      });
    }
    const { handle, attached } = await startOrAttach(cluster.client, spec, {
      config: raw,
      overrides,
      baseDir: dirname(resolve(configFile)),
    }, stores);
    log(`${attached ? 'attached to' : 'started'} run ${spec.run} (workflow ${workflowIdFor(spec.run)}) → ${spec.outDir}`);
    if (opts.detach) return;
    // Long polls must end before the connection closes, or gRPC retries them on a closed channel.
    const result = await cluster.connection.withAbortSignal(stopWorkers.signal, () => followRun(handle, stopWorkers.signal));
    if (!result) return;
    if (Object.keys(result.files).length === 0) {
      // A shared store's reduce writes no files (its worker may be on any machine): write them here, from the store.
      const store = await stores.forRun(spec);
      result.files = { ...(await taskFor(spec).report(spec, store, spec.outDir)).files, ...(await writeRunReportOrError(spec, store, spec.outDir, result.totalCells)) };
    }
    printTable(result.table);
    log(`\n${result.cells} cells (${result.discarded} discarded) of ${result.totalCells}`);
    for (const [what, path] of Object.entries(result.files)) log(`${what}: ${path}`);
    for (const line of runSummary(spec, result.outDir, result.files)) log(line);
    if (warning) log(warning);
  } finally {
    stopWorkers.abort();
    await workersDone.catch(() => undefined);
    process.off('SIGINT', onSigint);
    await cluster.close();
    await stores.close();
  }
}

/** Show a progress bar from the `progress` query until the workflow ends (or we are interrupted). */
async function followRun(handle: Awaited<ReturnType<typeof startOrAttach>>['handle'], signal: AbortSignal): Promise<ExperimentResult | undefined> {
  const bar = new cliProgress.SingleBar(
    { format: ' {bar} {value}/{total} cells | {rate} cells/s | ETA {eta_formatted} | {phase}', hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let last = { t: Date.now(), done: 0, rate: 0 };
  const result = handle.result();
  result.catch(() => undefined); // observed below; an abort on Ctrl-C must not surface as unhandled
  let finished = false;
  result.then(() => (finished = true), () => (finished = true));
  while (!finished && !signal.aborted) {
    const p = await queryProgress(handle);
    if (p && p.total > 0) {
      if (!started) {
        bar.start(p.total, p.done, { rate: '-', phase: p.phase });
        started = true;
        last = { t: Date.now(), done: p.done, rate: 0 };
      }
      const now = Date.now();
      if (now - last.t >= 1000) {
        last = { t: now, done: p.done, rate: (p.done - last.done) / ((now - last.t) / 1000) };
      }
      bar.update(p.done, { rate: last.rate.toFixed(1), phase: p.phase });
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
  }
  if (signal.aborted) {
    if (started) bar.stop();
    return undefined;
  }
  const r = await result;
  if (started) {
    bar.update(r.cells, { phase: 'done' });
    bar.stop();
  }
  return r;
}
