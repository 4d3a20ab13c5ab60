/**
 * Workers that share nothing but the Temporal server and a PostgreSQL database: three `rolyplay worker` processes,
 * each in a working directory of its own (so each resolves the run folder to a different place, and no file is
 * shared), ROLYPLAY_STORE pointing at the database. One is killed with SIGKILL mid-run and a fourth starts. The run
 * must end with exactly the expected cells, once each, and metrics identical to a single-worker SQLite run of the
 * same config; the database URL and its password must appear nowhere in the run's histories or the workers' logs.
 *
 * One of the three runs in a network namespace of its own (tests/support/netns.ts: `ip netns exec`, a veth pair
 * to this machine), so it shares no network with the others either: its loopback is its own (the suite's dev server
 * on this machine's 127.0.0.1 is out of its reach, which the test checks) and it reaches the run's dev server, its
 * PostgreSQL and the model server only at the host end of the pair, where those three listen. That needs root (or
 * CAP_NET_ADMIN): without it the test fails under CI=true, saying so, and is skipped elsewhere.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { experimentWorkflow } from '../workflows/index.js';
import { PostgresStores, collect, type ResultStore } from '../store/results.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { mmluConfig, referenceMetrics, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { comparableMetrics } from './support/cells.js';
import { cliEnv, runCli } from './support/cli.js';
import { describePostgres } from './support/postgres.js';
import { createNetns, linksIn, tcpFrom, type Netns } from './support/netns.js';
import { startDevServer, type DevServer } from '../server/devServer.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../server/postgres.js';

const LIMIT = 16;
const questions = [...readQuestions('abstract_algebra', LIMIT), ...readQuestions('anatomy', LIMIT)];
const CELLS = questions.length * 4;
const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

interface Listed {
  run: string;
  folder: string;
  store: string;
  task: string;
  cells: number;
  total: number;
  state: string;
  report: string | null;
}

describePostgres('multi-machine run on PostgreSQL', () => {
  let fake: FakeOpenAI;
  let reference: unknown;
  let netns: Netns | undefined;
  let noNetns = '';
  let server: DevServer | undefined;
  let address = '';
  let database: ThrowawayPostgres | undefined;
  const config = (name: string, taskQueue: string, outDir: string) =>
    mmluConfig({ baseURL: fake.baseURL, taskQueue, outDir, name, limit: LIMIT, execution: { heartbeat_s: 3, shards_in_flight: 4 } });

  beforeAll(async () => {
    try {
      netns = createNetns();
    } catch (err) {
      noNetns = (err as Error).message;
      if (process.env.CI) throw new Error(`the multi-machine test runs a worker in a network namespace of its own: ${noNetns}`);
      return;
    }
    // The run's database and model server listen on the pair's host end, reachable from both sides; the dev server
    // on every interface (it cannot listen on one other address alone: server/devServer.ts), reached at that end.
    server = await startDevServer({ dbFile: join(tmpDir(), 'temporal.db'), headless: true, cli: inject('temporalCli'), ip: '0.0.0.0' });
    address = `${netns.hostIp}:${server.address.split(':').pop()}`;
    database = await startThrowawayPostgres({ listen: [netns.hostIp], allow: [netns.cidr] });
    fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test', host: netns.hostIp });
    reference = await referenceMetrics((taskQueue, outDir) => config('multi-ref', taskQueue, outDir));
  });
  afterAll(async () => {
    // Each step even if one before it failed: the namespace and the veth pair must not outlive the test.
    await fake?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await database?.stop().catch(() => undefined);
    netns?.remove();
  });

  it('three workers in their own folders, one in its own network namespace, one killed and one added: every cell once, same metrics, no secret leaked', async (ctx) => {
    if (!netns) return ctx.skip(noNetns);
    const ns = netns;
    const url = (database as ThrowawayPostgres).url;
    // Isolated: from the namespace this machine's loopback is out of reach (the suite's dev server answers there for
    // this process), and the run's dev server and database are reachable only at the pair's host end.
    const suite = inject('temporalAddress');
    const suitePort = Number(suite.split(':').pop());
    const dbPort = (database as ThrowawayPostgres).port;
    expect(await tcpHere('127.0.0.1', suitePort)).toBe('open');
    expect(tcpFrom(ns, '127.0.0.1', suitePort)).toBe('ECONNREFUSED');
    // The run's dev server listens on every interface of this machine: at 127.0.0.1 for this process, not for the
    // namespace, whose loopback is its own.
    const devPort = Number(address.split(':').pop());
    expect(await tcpHere('127.0.0.1', devPort)).toBe('open');
    expect(tcpFrom(ns, '127.0.0.1', devPort)).toBe('ECONNREFUSED');
    expect(tcpFrom(ns, ns.hostIp, devPort)).toBe('open');
    expect(tcpFrom(ns, ns.hostIp, dbPort)).toBe('open');
    expect(linksIn(ns).sort()).toEqual(['lo', `rpb-${ns.name.slice('rolyplay-'.length)}`].sort());
    const password = decodeURIComponent(new URL(url).password);
    expect(password.length).toBeGreaterThan(8);
    const taskQueue = `multi-${randomUUID()}`;
    const name = `multi-${randomUUID().slice(0, 8)}`;
    const logs: string[] = [];
    const dirs: string[] = [];
    const workers: ChildProcess[] = [];
    const spawnWorker = (inNamespace = false) => {
      const cwd = tmpDir('rolyplay-machine-');
      dirs.push(cwd);
      const i = logs.push('') - 1;
      const argv = [process.execPath, CLI, 'worker', '--task-queue', taskQueue, '--concurrency', '4'];
      // `ip netns exec` execs the command in place: the pid is the worker's (its activity identity is pid@host).
      const [cmd, ...args] = inNamespace ? [...ns.exec, ...argv] : argv;
      const w = spawn(cmd as string, args, {
        cwd,
        env: { ...process.env, TEMPORAL_ADDRESS: address, ROLYPLAY_STORE: url, TEST_OPENAI_KEY: 'sk-test', ROLYPLAY_LOG_LEVEL: 'INFO' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      w.stdout?.on('data', (d: Buffer) => (logs[i] += d.toString()));
      w.stderr?.on('data', (d: Buffer) => (logs[i] += d.toString()));
      workers.push(w);
      return w;
    };
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    let store: ResultStore | undefined;
    const stores = await PostgresStores.open(url);
    fake.reset();
    fake.setLatency(100);
    try {
      store = await stores.forRun();
      const [first, , isolated] = [spawnWorker(), spawnWorker(), spawnWorker(true)];
      const workflowId = `rolyplay-${name}`;
      // Relative output folder: each worker would resolve it in its own cwd; only the planning one does.
      const handle = await client.workflow.start(experimentWorkflow, { taskQueue, workflowId, args: [{ config: config(name, taskQueue, 'runs') }] });
      await waitFor(async () => ((await store?.countCells(name, 'mmlu'))?.cells ?? 0) >= CELLS / 4, 120_000, 'a quarter of the cells');
      first?.kill('SIGKILL');
      await new Promise((r) => first?.once('exit', r));
      const before = (await store.countCells(name, 'mmlu')).cells;
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(CELLS);
      spawnWorker();
      // `rolyplay ls` on a fifth machine (no run folder, no worker): the run is in the shared store, and running on
      // the cluster its TEMPORAL_ADDRESS names.
      const reader = tmpDir('rolyplay-reader-');
      // (runCli is async: the in-process fake model keeps serving the workers meanwhile.)
      const readerEnv = cliEnv({ ROLYPLAY_STORE: url, TEMPORAL_ADDRESS: address });
      const lsMid = await runCli(['ls', '--output', join(reader, 'runs'), '--format', 'json'], reader, readerEnv);
      expect(lsMid.code, lsMid.stderr).toBe(0);
      const mid = JSON.parse(lsMid.stdout) as Listed[];
      expect(mid).toEqual([expect.objectContaining({ run: name, task: 'mmlu', total: CELLS, folder: join(reader, 'runs', name), report: null })]);
      expect(mid[0]!.store).toMatch(/^PostgreSQL postgres:\/\//);
      expect(mid[0]!.cells).toBeGreaterThanOrEqual(before);
      // (Unless the last cells landed in the meantime, the workflow is still running.)
      expect(mid[0]!.state).toBe(mid[0]!.cells < CELLS ? 'running' : 'finished');
      const result = await handle.result();

      // Exactly the expected cells, each once.
      expect(result.cells).toBe(CELLS);
      const cells = await collect(store.streamCells(name));
      expect(cells).toHaveLength(CELLS);
      expect(new Set(cells.map((c) => `${c.persona}|${c.item}|${c.sample}`)).size).toBe(CELLS);
      // A shared store's reduce writes no files, and no worker made a SQLite store.
      expect(result.files).toEqual({});
      for (const d of dirs) expect(findFiles(d, 'results.sqlite')).toEqual([]);

      // Batches ran on several processes (the activity's worker identity is pid@host).
      const histories = [await handle.fetchHistory()];
      for (let s = 0; ; s++) {
        const child = client.workflow.getHandle(`${workflowId}/shard-${s}`);
        const h = await child.fetchHistory().catch(() => undefined);
        if (!h) break;
        histories.push(h);
      }
      expect(histories.length).toBeGreaterThan(4);
      const identities = new Set(histories.flatMap((h) => (h.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter(Boolean)));
      // Which of the live workers Temporal hands tasks to is its choice (a fresh CI clone saw 2 of 3 take work): the
      // killed worker and at least one that finished after it make two.
      expect(identities.size, [...identities].join(', ')).toBeGreaterThanOrEqual(2);
      // The worker in the namespace did work, through the pair alone.
      const isolatedBatches = histories.flatMap((h) => h.events ?? []).filter((e) => e.activityTaskStartedEventAttributes?.identity?.startsWith(`${isolated?.pid}@`)).length;
      expect(isolatedBatches, `no activity ran on the namespaced worker ${isolated?.pid}; identities: ${[...identities].join(', ')}; its log: ${logs[2]}`).toBeGreaterThan(0);
      console.info(
        `multi-machine: ${before}/${CELLS} cells stored at the kill; ${cells.length} cells at the end; batches ran on ${identities.size} worker processes ` +
          `(${isolatedBatches} activities on the one in network namespace ${ns.name}, ${ns.nsIp} → ${ns.hostIp}); ${histories.length - 1} shards; ` +
          `ls from a reader mid-run: ${mid[0]!.cells}/${CELLS} ${mid[0]!.state}`,
      );

      // Finished now; `report` writes the report on the reader's machine from the database, and `ls` then finds it.
      const report = await runCli(['report', name, '--output', join(reader, 'runs')], reader, readerEnv);
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout.trim()).toBe(join(reader, 'runs', name, 'report.html'));
      expect(existsSync(join(reader, 'runs', name, 'report.html'))).toBe(true);
      const lsEnd = await runCli(['ls', '--output', join(reader, 'runs')], reader, readerEnv);
      expect(lsEnd.code, lsEnd.stderr).toBe(0);
      expect(lsEnd.stdout).toMatch(/^runs in PostgreSQL postgres:\/\//);
      expect(lsEnd.stdout).toMatch(new RegExp(`${name}\\s*│\\s*mmlu\\s*│.*│\\s*${CELLS}/${CELLS}\\s*│\\s*finished\\s*│.*│\\s*report\\.html`));

      // Metrics identical to the single-worker SQLite run, written by the CLI from the database.
      const out = spawnSync(process.execPath, [CLI, 'results', name, '--format', 'json', '--output', join(reader, 'runs')], {
        cwd: reader,
        env: { ...process.env, ROLYPLAY_STORE: url },
        encoding: 'utf8',
      });
      expect(out.status, out.stderr).toBe(0);
      // Usage differs by design: the killed worker's batches re-sent requests (comparableMetrics leaves it out too).
      const { run: _run, usage, ...metrics } = JSON.parse(out.stdout) as Record<string, unknown>;
      expect((usage as { total: { requests: number } }).total.requests).toBeGreaterThanOrEqual(CELLS);
      expect(metrics).toEqual(reference);
      expect(await comparableMetrics(join(reader, 'runs'), name)).toEqual(reference);

      // The URL and its password are in no history, search attribute, result or log.
      const everything = [
        ...histories.map((h) => JSON.stringify(h)),
        JSON.stringify((await handle.describe()).searchAttributes),
        JSON.stringify(result),
        ...logs,
        out.stdout,
        out.stderr,
        ...[lsMid, report, lsEnd].flatMap((r) => [r.stdout, r.stderr]),
      ].join('\n');
      expect(everything).toContain(name); // the haystack is the real one
      expect(everything).not.toContain(password);
      expect(everything).not.toContain(encodeURIComponent(password));
      expect(everything).not.toContain(url);
      expect(everything).not.toContain(new URL(url).username + ':');
    } finally {
      fake.setLatency(0);
      for (const w of workers) w.kill('SIGKILL');
      await stores.close();
      await connection.close();
    }
  });
});

async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tcpHere(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.setTimeout(3000, () => (s.destroy(), resolve('ETIMEDOUT')));
    s.on('connect', () => (s.destroy(), resolve('open')));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(name));
}
