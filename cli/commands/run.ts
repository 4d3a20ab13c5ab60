/** `rolyplay run <config> [key=value ...]` */
import { dirname, join, resolve } from 'node:path';
import { setMaxListeners } from 'node:events';
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, statfsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { effectiveConfig, loadExperimentOnline, modelWarningBanner, readConfigFile, type ExperimentSpec } from '../../experiment/load.js';
import { checkOutputFolder, EnvironmentError } from '../../experiment/envErrors.js';
import { InputError } from '../../experiment/errors.js';
import { connectCluster, type Cluster } from '../connect.js';
import type { DevServer } from '../../server/devServer.js';
import { existingStore, phaseLabel, queryProgress, startOrAttach, storedCount, workflowIdFor } from '../runs.js';
import { claimRunFolder, waitForOwnerAddress, readOwner, isAlive, type OwnerLock } from '../owner.js';
import { activityProblems, ProblemReporter, progressStats, type Sample } from '../watch.js';
import { createWorkers, runWorkers } from '../../workers/index.js';
import { printTable } from '../table.js';
import { servedModelWarning } from '../../backends/openai/backend.js';
import { storesFromEnv, type StoreResolver } from '../../store/results.js';
import { runSummary } from '../summary.js';
import { writeRunReportOrError } from '../../report/index.js';
import { taskFor } from '../../experiment/tasks.js';
import type { experimentWorkflow } from '../../workflows/index.js';
import type { ExperimentInput, ExperimentResult } from '../../workflows/types.js';

export interface RunOptions {
  worker: boolean;
  headless?: boolean;
  detach?: boolean;
  /** Internal: the background owner process that `--detach` starts. */
  background?: boolean;
}

/** How long in-flight batches get on Ctrl-C to finish and report before they are cancelled (they keep what they stored). */
const INTERRUPT_GRACE = '1500ms';

/**
 * gRPC's retry timer can fire after the connection was closed (a query that was backing off when the run ended or
 * the server died) and throws "Channel has been shut down" from a timer: nothing is lost by then, so it must not
 * crash the CLI with a stack trace. Only that error, and only once we are closing.
 */
let closing = false;
process.on('uncaughtException', (err) => {
  if (closing && err?.message === 'Channel has been shut down') return;
  process.stderr.write(`error: ${err?.stack ?? String(err)}\n`);
  process.exit(1);
});

export async function runCommand(configFile: string, overrides: string[], opts: RunOptions): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  // Validate locally first: a bad config fails in milliseconds, before any server starts.
  // (A hub model candidate is downloaded here, with a progress bar, before the server starts.)
  const spec = await loadExperimentOnline(configFile, overrides);
  const warning = modelWarningBanner(spec);
  if (warning) log(warning);
  const raw = readConfigFile(configFile);
  // Overrides stay listed (applying them again is a no-op) so the web UI shows them beside the effective config.
  const input = { config: effectiveConfig(raw, overrides), overrides, baseDir: dirname(resolve(configFile)) };
  const external = process.env.TEMPORAL_ADDRESS;
  for (const w of configWarnings(spec)) log(`warning: ${w}`);
  // The folder that takes the db, the store and the logs must exist and take a write before anything starts.
  if (!external || opts.worker) checkOutputFolder(spec.outDir);
  const resume = `rolyplay run ${[configFile, ...overrides].join(' ')}`;

  // Local runs: one owner per run folder. A second `run` attaches to the owner's server; a stale owner's server is reused.
  let lock: OwnerLock | undefined;
  let attachTo: { address: string; pid: number; background?: boolean } | undefined;
  let reuse: { address: string; pid: number; uiUrl?: string } | undefined;
  if (!external) {
    const claim = claimRunFolder(spec.outDir, { background: opts.background ?? false });
    if (claim.kind === 'held') {
      if (opts.detach) {
        log(`run ${spec.run} is already running in process ${claim.owner.pid}; \`rolyplay status ${spec.run}\` shows it, \`rolyplay stop ${spec.run}\` stops it`);
        return;
      }
      log(`run ${spec.run} is owned by process ${claim.owner.pid}${claim.owner.background ? ' (background)' : ''}: attaching to it`);
      const owner = await waitForOwnerAddress(spec.outDir, claim.owner.pid, 120_000);
      if (!owner?.address) {
        throw new EnvironmentError(`process ${claim.owner.pid} owns ${spec.outDir} but did not start its Temporal server`, `wait for it, or stop it (\`rolyplay stop ${spec.run}\`) and run again`);
      }
      attachTo = { address: owner.address, pid: owner.pid, ...(owner.background ? { background: true } : {}) };
    } else {
      lock = claim.lock;
      const st = claim.stale;
      if (st?.address && st.serverPid) reuse = { address: st.address, pid: st.serverPid, ...(st.uiUrl ? { uiUrl: st.uiUrl } : {}), ...(st.serverStopping ? { stopping: true } : {}) };
    }
  }
  if (opts.detach && lock && !opts.background) {
    lock.release();
    return detach(configFile, overrides, opts, spec, resume);
  }

  // Cheap look at an API server's model list while the dev server starts (warnings only; planning's preflight decides).
  const modelCheck = spec.model.backend === 'openai' && process.env[spec.model.api_key_env]
    ? servedModelWarning({ baseURL: spec.model.base_url ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1', model: spec.model.model, apiKey: process.env[spec.model.api_key_env] as string })
    : Promise.resolve(undefined);
  // ROLYPLAY_STORE is checked (and a database connected to) before anything starts.
  const stores = await storesFromEnv();
  let cluster: Cluster;
  try {
    cluster = await connectCluster({ outDir: spec.outDir, headless: opts.headless ?? false, log, ...(attachTo ? { address: attachTo.address } : {}), ...(reuse ? { reuse } : {}) });
  } catch (err) {
    lock?.release();
    await stores.close();
    throw err;
  }
  const served = await modelCheck;
  if (served) log(`warning: ${served}`);
  const server = cluster.devServer;
  if (server) lock?.update({ address: cluster.address, serverPid: server.pid, ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}) });

  const stop = new AbortController();
  // Every client RPC of the run (progress queries, the result's long polls) listens on this signal.
  setMaxListeners(0, stop.signal);
  let workersDone: Promise<void> = Promise.resolve();
  let workerError: Error | undefined;
  let interruptedAt: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interruptedAt !== undefined) process.exit(130);
    interruptedAt = Date.now();
    if (!opts.background) process.stderr.write('\n');
    log(
      attachTo
        ? `${sig === 'SIGINT' ? 'interrupted' : 'stopping'}: detaching; run ${spec.run} goes on in process ${attachTo.pid} (\`rolyplay stop ${spec.run}\` stops it)`
        : `${sig === 'SIGINT' ? 'interrupted' : 'stopping'}: letting in-flight batches report, then stopping`,
    );
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failed = false;
  try {
    if (opts.worker && !attachTo && (server || external)) {
      const { workers } = await createWorkers({ connection: await cluster.workerConnection(), namespace: cluster.namespace, shutdownGraceTime: INTERRUPT_GRACE, stores });
      workersDone = runWorkers(workers, stop.signal);
      workersDone.catch((err: Error) => {
        workerError = err;
        stop.abort();
      });
    }
    const { handle, attached } = attachTo
      ? await attachToOwner(cluster, spec, input, stores, attachTo.pid, log)
      : await startOrAttach(cluster.client, spec, input, stores, undefined, log);
    lock?.update({ running: true });
    log(`${attached ? 'attached to' : 'started'} run ${spec.run} (workflow ${workflowIdFor(spec.run)}) → ${spec.outDir}`);
    if (opts.detach && !opts.background) {
      // External cluster: its workers carry the run on.
      log(`detached: the run goes on on the cluster's workers; \`rolyplay status ${spec.run}\` shows it`);
      return;
    }
    // Long polls must end before the connection closes, or gRPC retries them on a closed channel.
    const result = await cluster.connection.withAbortSignal(stop.signal, () =>
      followRun(handle, cluster, { signal: stop.signal, bar: !opts.background, log, outDir: spec.outDir, resume }),
    );
    if (!result) {
      if (interruptedAt === undefined) {
        const full = diskFull(spec.outDir, resume);
        if (full) throw full;
        if (server?.dead) {
          throw await deadServer(server, spec, resume, stores);
        }
        if (workerError) throw new EnvironmentError(`the in-process worker stopped: ${workerError.message}`, `see ${join(spec.outDir, 'worker.log')}, then run \`${resume}\` again to resume`);
      }
      return;
    }
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
  } catch (err) {
    failed = true;
    // A full disk also breaks the dev server's db: name the cause, not its symptom.
    const full = err instanceof EnvironmentError ? undefined : diskFull(spec.outDir, resume);
    if (full) throw full;
    if (attachTo && !isAlive(attachTo.pid) && !(err instanceof InputError) && !(err instanceof WorkflowFailedError)) {
      throw new EnvironmentError(`the process that owned run ${spec.run} (${attachTo.pid}) stopped, and its server with it`, `run \`${resume}\` again to resume it (${await describeKept(spec, stores)} are kept)`);
    }
    if (server?.dead && !(err instanceof InputError) && !(err instanceof WorkflowFailedError)) {
      throw await deadServer(server, spec, resume, stores);
    }
    throw err;
  } finally {
    closing = true;
    stop.abort();
    // In-flight batches get INTERRUPT_GRACE to report; a worker whose server died is not waited for.
    await Promise.race([workersDone.catch(() => undefined), sleep(server?.dead ? 300 : 2500)]);
    // The dev server's graceful stop takes ~3 s: do not make the user wait. Until it has exited, the owner file
    // stays (marked), so the next owner waits for it rather than starting a second server on the db.
    await cluster.close({ waitForServer: false });
    if (server && !server.dead) lock?.update({ serverStopping: true });
    else lock?.release();
    const kept = interruptedAt !== undefined && !attachTo && !failed ? await describeKept(spec, stores) : '';
    await stores.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (interruptedAt !== undefined && !attachTo && !failed) {
      log(`stopped in ${((Date.now() - interruptedAt) / 1000).toFixed(1)} s: ${kept} are kept in ${spec.outDir}; \`${resume}\` again resumes it`);
    }
  }
}

/**
 * Follow the run of the process that owns the folder: attach if it runs, show the result if it just finished; never
 * start a workflow there (this process has no worker, and the owner is about to stop its server).
 */
async function attachToOwner(cluster: Cluster, spec: ExperimentSpec, input: ExperimentInput, stores: StoreResolver, ownerPid: number, log: (m: string) => void) {
  const handle = cluster.client.workflow.getHandle<typeof experimentWorkflow>(workflowIdFor(spec.run));
  const status = await handle.describe().then((d) => d.status.name, () => undefined);
  if (status === 'RUNNING') return startOrAttach(cluster.client, spec, input, stores, undefined, log);
  if (status === 'COMPLETED') return { handle, attached: true };
  throw new EnvironmentError(`process ${ownerPid} owns run ${spec.run} but its workflow is ${status ?? 'not started yet'}`, `wait for that process to finish (or \`rolyplay stop ${spec.run}\`), then run again`);
}

async function describeKept(spec: ExperimentSpec, stores: StoreResolver): Promise<string> {
  try {
    const rec = await (await existingStore(stores, spec))?.getRun(spec.run);
    return `${await storedCount(stores, spec)} of ${rec?.totalCells ?? '?'} ${taskFor(spec).unitName ?? 'cells'}`;
  } catch {
    return 'the results stored so far';
  }
}

/** Things that are valid but probably not meant, said before the run starts. */
export function configWarnings(spec: ExperimentSpec): string[] {
  const out: string[] = [];
  const scoring = ((spec as { scoring?: unknown }).scoring ?? {}) as { mode?: string; maxTokens?: number; maxTries?: number };
  if (spec.model.backend === 'openai' && scoring.mode?.startsWith('generate') && scoring.maxTokens === undefined) {
    out.push(
      `scoring.mode ${scoring.mode} without scoring.max_tokens: a server that generates to EOS (llama.cpp, vLLM, Ollama) answers with long texts, ` +
        `so cells are re-asked up to max_tries (${scoring.maxTries ?? '?'}) times; set scoring.max_tokens (e.g. 1) to score single letters`,
    );
  }
  return out;
}

/** `run --detach` for a local run: a background process owns server and worker; this one returns once it runs. */
async function detach(configFile: string, overrides: string[], opts: RunOptions, spec: ExperimentSpec, resume: string): Promise<void> {
  const logFile = join(spec.outDir, 'run.log');
  const fd = openSync(logFile, 'a');
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');
  const args = [main, 'run', configFile, ...overrides, '--background', ...(opts.headless ? ['--headless'] : []), ...(opts.worker ? [] : ['--no-worker'])];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const end = Date.now() + 120_000;
  for (;;) {
    const o = readOwner(spec.outDir);
    if (o && o.pid === child.pid && o.running) {
      log(`run ${spec.run} goes on in the background (process ${child.pid}, Temporal ${o.address}${o.uiUrl ? `, web UI ${o.uiUrl}` : ''})`);
      log(`  progress: \`rolyplay status ${spec.run}\` or \`${resume}\` (attaches); stop: \`rolyplay stop ${spec.run}\`; log: ${logFile}`);
      return;
    }
    if (exited !== undefined || (child.pid && !isAlive(child.pid))) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new EnvironmentError(`the background run exited (code ${exited ?? '?'}) before it started:\n${tail}\n`, `fix the cause above (full log: ${logFile}) and run again`);
    }
    if (Date.now() > end) throw new EnvironmentError(`the background run (process ${child.pid}) did not start within 120 s`, `see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Below this, SQLite and the dev server's db start failing writes. */
const MIN_FREE_BYTES = 1 << 20;

/** The error for a disk that is (nearly) full under the run folder, or undefined. */
function diskFull(dir: string, resume: string): EnvironmentError | undefined {
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    return undefined;
  }
  if (free >= MIN_FREE_BYTES) return undefined;
  return new EnvironmentError(`the disk holding ${dir} is full (${free} bytes free)`, `free space there (or set output.dir to another disk), then run \`${resume}\` again: it resumes, and the results stored so far are kept`);
}

async function deadServer(server: DevServer, spec: ExperimentSpec, resume: string, stores: StoreResolver): Promise<EnvironmentError> {
  return new EnvironmentError(
    `the local Temporal dev server (pid ${server.pid}, ${server.address}) exited unexpectedly; its log is ${server.logFile}`,
    `run \`${resume}\` again: it restarts the server on the same db and resumes (${await describeKept(spec, stores)} are kept)`,
  );
}

/** Show progress until the workflow ends (or we are interrupted), and every retrying activity's last failure. */
async function followRun(
  handle: WorkflowHandle<typeof experimentWorkflow>,
  cluster: Cluster,
  o: { signal: AbortSignal; bar: boolean; log: (m: string) => void; outDir: string; resume: string },
): Promise<ExperimentResult | undefined> {
  const tty = o.bar && process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    { format: ' {bar} {value}/{total} cells | {rate} cells/s | ETA {eta_s} | {phase}', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  // A line above the bar: clear the bar's line, print, and let the next update redraw it.
  const print = (line: string) => (tty && started ? process.stderr.write(`\r\x1b[K${line}\n`) : o.log(line));
  const reporter = new ProblemReporter(print);
  const samples: Sample[] = [];
  const result = handle.result();
  result.catch(() => undefined); // observed below; an abort on Ctrl-C must not surface as unhandled
  let finished = false;
  result.then(() => (finished = true), () => (finished = true));
  const serverGone = cluster.devServer?.exited;
  let gone = false;
  serverGone?.then(() => (gone = true));
  // Every RPC of this loop is tracked and given a deadline: none may still be retrying when the connection closes.
  const inFlight = new Set<Promise<unknown>>();
  const rpc = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = cluster.connection.withDeadline(Date.now() + 4000, fn);
    inFlight.add(p);
    p.then(() => inFlight.delete(p), () => inFlight.delete(p));
    return p;
  };
  try {
    return await watch();
  } finally {
    // Bounded: with the server gone they only time out, and a late retry is absorbed by ignoreClosedChannel.
    await Promise.race([Promise.allSettled([...inFlight]), sleep(gone ? 0 : 1000)]);
  }

  async function watch(): Promise<ExperimentResult | undefined> {
    let tick = 0;
    let pausedFor: string | undefined;
    while (!finished && !o.signal.aborted && !gone) {
      // A query needs a worker: once the run is over (and its owner's worker gone), it would hang; the result wins.
      const ended = result.then(() => undefined, () => undefined);
      const p = await Promise.race([rpc(() => queryProgress(handle)), ended]);
      if (p && p.total > 0) {
        samples.push({ t: Date.now(), done: p.done });
        if (samples.length > 200) samples.shift();
        const { rate, eta } = progressStats(samples, p.total);
        if (!started && tty) bar.start(p.total, p.done, { rate, eta_s: eta, phase: phaseLabel(p) });
        started = true;
        // A later stage, once planned, adds its cells to the total.
        if (tty) bar.setTotal(p.total);
        if (tty) bar.update(p.done, { rate, eta_s: eta, phase: phaseLabel(p) });
      }
      // Run control: a pause (by the user, a used budget, the provider's quota) is said once, with how to resume.
      if (p?.reason !== pausedFor) {
        pausedFor = p?.reason;
        if (pausedFor) process.stderr.write(`\npaused: ${pausedFor}\n`);
      }
      // A full disk stalls both the store and the dev server's db: stop with the path instead of hanging.
      const full = diskFull(o.outDir, o.resume);
      if (full) {
        if (started && tty) bar.stop();
        throw full;
      }
      // Retrying activities (an unreachable backend, a full disk...) are visible in the pending activities' failures.
      if (tick++ % 2 === 0 || p?.phase === 'planning' || !p) {
        const problems = await Promise.race([rpc(() => activityProblems(cluster.client, handle.workflowId)).catch(() => []), ended.then(() => [])]);
        reporter.report(problems);
      }
      await Promise.race([result.catch(() => undefined), serverGone, new Promise((r) => setTimeout(r, 500))]);
  }
    if (o.signal.aborted || gone || !finished) {
      if (started && tty) bar.stop();
      return undefined;
  }
    try {
      const r = await result;
      if (started && tty) {
        bar.update(r.cells, { phase: 'done', rate: progressStats(samples, r.totalCells).rate, eta_s: '0s' });
        bar.stop();
      }
      return r;
    } catch (err) {
      if (started && tty) bar.stop();
      throw err;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
