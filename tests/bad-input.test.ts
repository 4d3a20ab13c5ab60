/**
 * (e) Bad input, each giving a clear error within seconds and no endless retry: malformed YAML, an unknown subject or
 * persona set, a template without its placeholders, a missing data folder, a backend 401. Two levels each:
 *   - the CLI (`node dist/cli/main.js run <file>` as a child process): the config is checked before any server is
 *     contacted, so it exits 2 at once, naming the file, the field and a fix;
 *   - the workflow (`experimentWorkflow` started with the bad config as JSON input, as `temporal workflow start`
 *     would): it fails, never hangs, with the field in the message, and the failing activity ran exactly once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import proto, { type temporal } from '@temporalio/proto';
import { loadExperiment, PACKAGE_ROOT, resolveConfig } from '../experiment/load.js';
import { SqliteStore, collect, sqlitePath } from '../store/results.js';
import { withRunStore } from './support/cells.js';
import { experimentWorkflow } from '../workflows/index.js';
import type { ExperimentInput } from '../workflows/types.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { harness, mmluConfig, MMLU_DATA, tmpDir, type Harness } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
/** Generous against a loaded CI machine; a healthy run takes well under a second (no server, no retries). */
const CLI_FAST_MS = 10_000;
const WORKFLOW_FAIL_MS = 15_000;
const WRONG_KEY = 'sk-wrong-0123456789abcdefSECRET';

// ---- bad inputs, shared by both levels ---------------------------------------------------------------------------

interface BadCase {
  name: string;
  /** Changes a valid config into the bad one; may write files into dir. */
  make(config: Record<string, unknown>, dir: string): { config: Record<string, unknown>; overrides?: string[]; baseDir?: string };
  /** What the message must contain: the field, the problem, and (CLI) the fix. */
  field: string;
  problem: (dir: string) => string;
  fix: string;
  /** What the message names instead of the config file: the data file at fault, or the override. */
  names?: (dir: string) => string;
}

const BAD_CASES: BadCase[] = [
  {
    name: 'malformed YAML in a persona set file',
    make: (c, dir) => {
      writeFileSync(join(dir, 'broken.yaml'), 'name: broken\npersonas: ["poet", "chef"\n  - oops: [\n');
      return { config: { ...c, personas: [join(dir, 'broken.yaml')] } };
    },
    field: '(yaml)',
    problem: () => 'malformed YAML at line',
    fix: 'fix the YAML syntax',
    names: (dir) => join(dir, 'broken.yaml'),
  },
  {
    name: 'malformed YAML in an override value',
    make: (c) => ({ config: c, overrides: ['data.subjects=[abstract_algebra'] }),
    field: 'data.subjects',
    problem: () => 'is not valid YAML',
    fix: 'quote the value',
    names: () => '"data.subjects=[abstract_algebra"',
  },
  {
    name: 'an unknown subject',
    make: (c) => ({ config: { ...c, data: { ...(c.data as object), subjects: ['abstract_algebra', 'abstract_algebr'] } } }),
    field: 'data.subjects',
    problem: () => 'unknown MMLU subject(s) abstract_algebr',
    fix: 'use names like abstract_algebra',
  },
  {
    name: 'an unknown persona set',
    make: (c) => ({ config: { ...c, personas: ['baseline', 'mmlu_expert'] } }),
    field: 'personas.1',
    problem: () => 'unknown persona set "mmlu_expert"',
    fix: 'mmlu_experts',
  },
  {
    name: 'a template without its {character} placeholder',
    make: (c) => ({ config: { ...c, template: { text: 'Question: {context}\nWhat would you choose?' } } }),
    field: 'template.text',
    problem: () => 'the template has no {character} placeholder',
    fix: 'put {character} where the persona go',
  },
  {
    name: 'a template file without its {context} placeholder',
    make: (c, dir) => {
      mkdirSync(join(dir, 'templates'), { recursive: true });
      writeFileSync(join(dir, 'templates', 'mine.yaml'), toYaml({ name: 'mine', text: 'If you were a {character}, what would you say?' }));
      return { config: { ...c, template: 'mine' }, baseDir: dir };
    },
    field: 'text',
    problem: () => 'the template has no {context} placeholder',
    fix: 'put {context} where the question go',
    names: (dir) => join(dir, 'templates', 'mine.yaml'),
  },
  {
    name: 'a missing data folder',
    make: (c, dir) => ({ config: { ...c, data: { ...(c.data as object), path: 'no-such-mmlu' } }, baseDir: dir }),
    field: 'data.path',
    problem: (dir) => `MMLU data folder ${join(dir, 'no-such-mmlu')} does not exist`,
    fix: 'point data.path at a folder with test/<subject>_test.csv files',
  },
  {
    name: 'an empty subject CSV',
    make: (c, dir) => {
      mkdirSync(join(dir, 'mmlu', 'test'), { recursive: true });
      writeFileSync(join(dir, 'mmlu', 'test', 'abstract_algebra_test.csv'), '');
      return { config: { ...c, data: { ...(c.data as object), path: join(dir, 'mmlu'), subjects: ['abstract_algebra'] } } };
    },
    field: 'data.path',
    problem: (dir) => `${join(dir, 'mmlu', 'test', 'abstract_algebra_test.csv')} has no questions`,
    fix: 'restore abstract_algebra_test.csv',
    names: (dir) => join(dir, 'mmlu', 'test', 'abstract_algebra_test.csv'),
  },
];

// ---- level 1: the CLI --------------------------------------------------------------------------------------------

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; killAfterMs: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Too slow: SIGINT first, so a CLI that started its own dev server stops it; SIGKILL if that does not end it.
    let hardKill: NodeJS.Timeout | undefined;
    const killer = setTimeout(() => {
      child.kill('SIGINT');
      hardKill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    }, opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      clearTimeout(hardKill);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** The environment of a CLI child: no cluster, so if validation were skipped it would try (and fail) to reach one. */
function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_CLI: inject('temporalCli'), ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** A valid config file (checked below), which each case then breaks. */
function validYaml(dir: string): Record<string, unknown> {
  return {
    name: 'bad-input',
    task: 'mmlu',
    data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 2 },
    personas: ['baseline'],
    model: { backend: 'openai', model: 'test-model', base_url: 'http://127.0.0.1:9/v1', api_key_env: 'TEST_OPENAI_KEY' },
    output: { dir: join(dir, 'runs') },
  };
}

// One child at a time, so each measured time is the CLI's own; the slow 401 run goes on in the background meanwhile.
describe('CLI: `rolyplay run <file>` rejects bad input before contacting any server', () => {
  let cli401: Promise<CliResult>;
  beforeAll(() => {
    const dir = tmpDir('rolyplay-bad-');
    const file = join(dir, 'exp.yaml');
    writeFileSync(file, toYaml({ ...validYaml(dir), name: 'cli-401', model: { backend: 'openai', model: 'test-model', base_url: fakeCli401.baseURL, api_key_env: 'TEST_OPENAI_KEY' } }));
    // No TEMPORAL_ADDRESS: the CLI starts (and stops) its own dev server, as for a user on a laptop.
    cli401 = runCli(['run', file, '--headless'], { cwd: dir, env: cliEnv({ TEMPORAL_ADDRESS: undefined, TEST_OPENAI_KEY: WRONG_KEY }), killAfterMs: 40_000 });
  });
  // Even when its test is filtered out, wait for the child (and the dev server it stops) before the file ends.
  afterAll(async () => void (await cli401));

  it('the unbroken config loads (so each failure below is the case, not the base)', () => {
    const dir = tmpDir('rolyplay-bad-');
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, toYaml(validYaml(dir)));
    expect(loadExperiment(file)).toMatchObject({ run: 'bad-input', personas: ['none'] });
  });

  it('malformed YAML in the config file itself', async () => {
    const dir = tmpDir('rolyplay-bad-');
    const file = join(dir, 'exp.yaml');
    writeFileSync(file, 'task: mmlu\ndata:\n  path: /data\n  subjects: [abstract_algebra\npersonas: [baseline]\n');
    const r = await runCli(['run', file], { cwd: dir, env: cliEnv(), killAfterMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.ms).toBeLessThan(CLI_FAST_MS);
    expect(r.stderr).toMatch(new RegExp(`^error: ${escape(file)}: \\(yaml\\): malformed YAML at line \\d+, column \\d+: .*Fix: fix the YAML syntax\\.\\n$`, 's'));
  });

  it.each(BAD_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = tmpDir('rolyplay-bad-');
    const { config, overrides = [] } = c.make(validYaml(dir), dir);
    const file = join(dir, 'exp.yaml');
    writeFileSync(file, toYaml(config));
    const r = await runCli(['run', file, ...overrides], { cwd: dir, env: cliEnv(), killAfterMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.ms).toBeLessThan(CLI_FAST_MS);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith('error: ')).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    // The file (the config, or the data file at fault), the field, the problem and a fix.
    expect(r.stderr).toContain(c.names?.(dir) ?? file);
    expect(r.stderr).toContain(`: ${c.field}: `);
    expect(r.stderr).toContain(c.problem(dir));
    expect(r.stderr).toMatch(new RegExp(`Fix: .*${escape(c.fix)}`, 's'));
  });

  it('a backend 401 (found by the run\'s preflight, so this one needs a server: the CLI starts its own dev server)', async () => {
    const r = await cli401;
    expect(r.code, r.stderr).toBe(2);
    expect(r.ms).toBeLessThan(30_000); // dev server start + workflow bundle + one HTTP call
    // The last line is the reason, with the server's own message; the key appears nowhere (worker logs included).
    const last = r.stderr.trimEnd().split('\n').at(-1);
    expect(last).toMatch(/^error: the run failed: OpenAI-compatible backend \(model "test-model" at http:\/\/127\.0\.0\.1:\d+\/v1\): HTTP 401 invalid_api_key: Incorrect API key provided: sk-\**CRET\. /);
    expect(r.stderr + r.stdout).not.toContain(WRONG_KEY);
    expect(r.stderr + r.stdout).not.toContain(WRONG_KEY.slice(3, -4));
    expect(fakeCli401.calls).toHaveLength(1);
  });
});

// ---- level 2: the workflow ---------------------------------------------------------------------------------------

let h: Harness;
let fake401: FakeOpenAI;
let fakeMidway: FakeOpenAI;
let fakeCli401: FakeOpenAI;
const questions = readQuestions('abstract_algebra', 4);

beforeAll(async () => {
  fake401 = await startFakeOpenAI({ apiKey: 'sk-right' });
  fakeMidway = await startFakeOpenAI({ apiKey: 'sk-test', policy: mmluPolicy(questions) });
  fakeCli401 = await startFakeOpenAI({ apiKey: 'sk-right' });
  h = await harness();
  // The worker's environment holds a right key (TEST_OPENAI_KEY) and a wrong one (WRONG_KEY).
  await h.startWorker({ env: { TEST_OPENAI_KEY: 'sk-test', WRONG_KEY } });
});
afterAll(async () => {
  await h?.close();
  await fake401?.close();
  await fakeMidway?.close();
  await fakeCli401?.close();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface Failed {
  error: WorkflowFailedError;
  root: ApplicationFailure;
  ms: number;
  events: HistoryEvent[];
}

/** Waits for the workflow to fail: a hang or a success fails the test (and a hung workflow is terminated). */
async function expectFailure(handle: WorkflowHandle<typeof experimentWorkflow>, t0: number): Promise<Failed> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    handle.result().then(
      () => ({ kind: 'completed' as const }),
      (error: unknown) => ({ kind: 'failed' as const, error }),
    ),
    new Promise<{ kind: 'hung' }>((r) => (timer = setTimeout(() => r({ kind: 'hung' }), WORKFLOW_FAIL_MS))),
  ]);
  clearTimeout(timer);
  if (outcome.kind === 'hung') {
    await handle.terminate('bad-input test: did not fail in time').catch(() => undefined);
    throw new Error(`workflow ${handle.workflowId} did not fail within ${WORKFLOW_FAIL_MS} ms (endless retry?)`);
  }
  if (outcome.kind === 'completed') throw new Error(`workflow ${handle.workflowId} completed on bad input`);
  const ms = Date.now() - t0;
  expect(outcome.error).toBeInstanceOf(WorkflowFailedError);
  const error = outcome.error as WorkflowFailedError;
  let root: Error = error;
  while (root.cause instanceof Error) root = root.cause;
  expect(root).toBeInstanceOf(ApplicationFailure);
  const { events } = await handle.fetchHistory();
  return { error, root: root as ApplicationFailure, ms, events: events ?? [] };
}

/** The plan activity ran exactly once and its failure was final (no retry scheduled). */
function expectPlanAttemptedOnce(f: Failed, type: string): void {
  const scheduled = f.events.filter((e) => e.activityTaskScheduledEventAttributes);
  const started = f.events.filter((e) => e.activityTaskStartedEventAttributes);
  const failed = f.events.filter((e) => e.activityTaskFailedEventAttributes);
  expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual(['planExperiment']);
  expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
  expect(failed).toHaveLength(1);
  expect(failed[0]?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo).toMatchObject({ type, nonRetryable: true });
  expect(failed[0]?.activityTaskFailedEventAttributes?.retryState).toBe(proto.temporal.api.enums.v1.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
  expect(f.events.some((e) => e.workflowExecutionFailedEventAttributes)).toBe(true);
  expect(f.error.cause).toBeInstanceOf(ActivityFailure);
  expect((f.error.cause as ActivityFailure).activityType).toBe('planExperiment');
  expect((f.error.cause as ActivityFailure).retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
  expect(f.root.type).toBe(type);
  expect(f.root.nonRetryable).toBe(true);
}

/** A valid workflow config (the first test checks it), which each case then breaks. */
function baseConfig(dir: string): Record<string, unknown> {
  return mmluConfig({ baseURL: fakeMidway.baseURL, taskQueue: h.taskQueue, outDir: join(dir, 'runs'), name: `bad-${randomUUID().slice(0, 8)}` });
}

describe.concurrent('workflow: experimentWorkflow fails fast on bad JSON input', () => {
  it('the unbroken config loads (so each failure below is the case, not the base)', () => {
    const dir = tmpDir('rolyplay-bad-');
    expect(resolveConfig(JSON.parse(JSON.stringify(baseConfig(dir))), [], { baseDir: dir }).personas).toHaveLength(4);
  });

  it.each(BAD_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = tmpDir('rolyplay-bad-');
    const base = baseConfig(dir);
    const { config, overrides, baseDir } = c.make(base, dir);
    // Exactly what `temporal workflow start --input '<json>'` delivers: plain JSON.
    const input: ExperimentInput = JSON.parse(JSON.stringify({ config, ...(overrides ? { overrides } : {}), ...(baseDir ? { baseDir } : {}) }));
    const t0 = Date.now();
    const handle = await h.client.workflow.start(experimentWorkflow, { taskQueue: h.taskQueue, workflowId: `bad-${randomUUID()}`, args: [input] });
    const f = await expectFailure(handle, t0);
    expect(f.ms).toBeLessThan(WORKFLOW_FAIL_MS);
    expect(f.root.message).toContain(`${c.field}: `);
    expect(f.root.message).toContain(c.problem(dir));
    expect(f.root.message).toContain('Fix: ');
    if (c.names) expect(f.root.message).toContain(c.names(dir));
    expectPlanAttemptedOnce(f, 'InvalidInput');
  });

  it('the same, started by the real `temporal workflow start --input` command', async () => {
    const dir = tmpDir('rolyplay-bad-');
    const base = baseConfig(dir);
    const config = { ...base, data: { path: MMLU_DATA, subjects: ['abstract_algebr'] } };
    const workflowId = `bad-cli-${randomUUID()}`;
    const t0 = Date.now();
    const r = spawnSync(
      inject('temporalCli'),
      ['workflow', 'start', '--address', h.address, '--namespace', 'default', '--task-queue', h.taskQueue, '--type', 'experimentWorkflow', '--workflow-id', workflowId, '--input', JSON.stringify({ config })],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const f = await expectFailure(h.client.workflow.getHandle(workflowId), t0);
    expect(f.ms).toBeLessThan(WORKFLOW_FAIL_MS);
    expect(f.root.message).toContain('data.subjects: unknown MMLU subject(s) abstract_algebr');
    expectPlanAttemptedOnce(f, 'InvalidInput');
  });

  it('a backend 401: the preflight fails once, non-retryably, with the server message and never the key', async () => {
    const dir = tmpDir('rolyplay-bad-');
    fake401.reset();
    const config = mmluConfig({ baseURL: fake401.baseURL, taskQueue: h.taskQueue, outDir: join(dir, 'runs'), name: 'bad-401' });
    (config.model as Record<string, unknown>).api_key_env = 'WRONG_KEY';
    const t0 = Date.now();
    const handle = await h.client.workflow.start(experimentWorkflow, { taskQueue: h.taskQueue, workflowId: `bad-401-${randomUUID()}`, args: [{ config }] });
    const f = await expectFailure(handle, t0);
    expect(f.ms).toBeLessThan(WORKFLOW_FAIL_MS);
    expect(f.root.message).toContain('HTTP 401 invalid_api_key: Incorrect API key provided: sk-');
    expect(f.root.message).toContain(fake401.baseURL);
    expectPlanAttemptedOnce(f, 'BackendRejected');
    // One HTTP call in all (the preflight): no SDK retries, no Temporal retries.
    expect(fake401.calls).toHaveLength(1);
    expect(fake401.calls[0]?.status).toBe(401);
    // The key appears nowhere: not in the failure, not in the history.
    const history = JSON.stringify(f.events);
    for (const text of [f.root.message, f.error.message, String(f.error.cause?.message), history]) {
      expect(text).not.toContain(WRONG_KEY);
      expect(text).not.toContain(WRONG_KEY.slice(3, -4));
    }
  });
});

describe('a 401 midway through a run', () => {
  it('fails the run once, keeps every cell scored before it, and a rerun resumes without rescoring them', async () => {
    const dir = tmpDir('rolyplay-bad-');
    const outDir = join(dir, 'runs');
    const name = 'midway-401';
    // 1 subject × 4 questions × 2 personas, one question per batch, one batch at a time: strictly sequential calls.
    const config = mmluConfig({
      baseURL: fakeMidway.baseURL,
      taskQueue: h.taskQueue,
      outDir,
      name,
      subjects: ['abstract_algebra'],
      limit: 4,
      personas: [{ name: 'two', personas: ['abstract algebra expert', 'poet'] }],
      execution: { questions_per_batch: 1, batches_per_shard: 8, shards_in_flight: 1, batches_in_flight: 1 },
    });
    fakeMidway.reset();
    // Call 0 is the preflight, calls 1-4 score questions 0 and 1; from call 5 on (question 2) the key is "revoked".
    // (The fake's 5xx fault can send any status; only the status decides how the backend classifies it.)
    fakeMidway.setFaults((i) => (i >= 5 ? { kind: '5xx', status: 401 } : undefined));
    try {
      const t0 = Date.now();
      const workflowId = `midway-${randomUUID()}`;
      const handle = await h.client.workflow.start(experimentWorkflow, { taskQueue: h.taskQueue, workflowId, args: [{ config }] });
      const f = await expectFailure(handle, t0);
      expect(f.ms).toBeLessThan(WORKFLOW_FAIL_MS);
      expect(f.root.type).toBe('ExperimentFailed');
      expect(f.root.message).toContain('HTTP 401');
      // Where: the run's SQLite file, or the database (ROLYPLAY_TEST_STORE=postgres) by its label, never its password.
      expect(f.root.message).toContain(`Cells already scored are kept in ${process.env.ROLYPLAY_STORE ? 'PostgreSQL postgres://' : sqlitePath(join(outDir, name))}`);
      // No retry: exactly the two 401 calls of question 2, and the shard ran batches 0, 1, 2 once each.
      expect(fakeMidway.calls.map((c) => c.status)).toEqual([200, 200, 200, 200, 200, 401, 401]);
      const shard = (await h.client.workflow.getHandle(`${workflowId}/shard-0`).fetchHistory()).events ?? [];
      expect(shard.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(3);
      expect(shard.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1, 1, 1]);
      const failed = shard.filter((e) => e.activityTaskFailedEventAttributes);
      expect(failed).toHaveLength(1);
      expect(failed[0]?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo).toMatchObject({ type: 'BackendRejected', nonRetryable: true });

      // The cells of questions 0 and 1 are in the run's results.sqlite.
      const cells = await withRunStore(outDir, name, [], (store) => collect(store.streamCells(name)));
      expect(cells.map((c) => `${c.item}|${c.persona}`).sort()).toEqual([
        'abstract_algebra/test/0|abstract algebra expert',
        'abstract_algebra/test/0|poet',
        'abstract_algebra/test/1|abstract algebra expert',
        'abstract_algebra/test/1|poet',
      ]);
      expect(cells.every((c) => c.discarded === false && c.prediction !== null)).toBe(true);

      // Key fixed: the rerun scores only the 4 missing cells (plus its preflight).
      fakeMidway.setFaults(undefined);
      fakeMidway.reset();
      const result = await h.run({ config });
      expect(result.cells).toBe(8);
      expect(fakeMidway.calls).toHaveLength(1 + 4);
      const asked = (q: { question: string }) => fakeMidway.calls.filter((c) => c.key.includes(`Question: ${q.question}\nA: `)).length;
      expect(questions.map(asked)).toEqual([0, 0, 2, 2]);
    } finally {
      fakeMidway.setFaults(undefined);
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
