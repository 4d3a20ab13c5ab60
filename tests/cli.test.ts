/**
 * The `rolyplay` CLI as a user runs it: `run` starts its own dev server (db in the run folder) and an in-process
 * worker, shows progress and the per-persona table; Ctrl-C and `run` again resumes without redoing finished cells;
 * `status` and `results` read the run folder. Also: `temporal workflow start` with the documented JSON input.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { harness, mmluConfig, tmpDir } from './support/harness.js';
import { expectedCorrect, mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';
import { RAW_NOISE, runCli, startCli, writeCliConfig } from './support/cli.js';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test' });
});
afterAll(async () => fake?.close());

function writeConfig(dir: string, name: string): string {
  return writeCliConfig(dir, name, fake.baseURL);
}

describe('rolyplay CLI', () => {
  it('runs an experiment on its own dev server and prints the per-persona table', async () => {
    const dir = tmpDir();
    const file = writeConfig(dir, 'cli-run');
    const r = await runCli(['run', file, '--headless'], dir);
    expect(r.stderr).toContain('local Temporal dev server');
    expect(r.code, r.stderr).toBe(0);
    for (const persona of ['abstract algebra expert', 'anatomy expert', 'poet', 'none']) {
      const exp = expectedCorrect(questions, persona, 'logits');
      expect(r.stdout).toMatch(new RegExp(`${persona}\\s*│\\s*${exp.n}\\s*│\\s*${exp.correct}\\s*│`));
    }
    const runDir = join(dir, 'runs', 'cli-run');
    // A shared store (ROLYPLAY_TEST_STORE=postgres) keeps the results in the database: no results.sqlite then.
    for (const f of ['results.csv', 'metrics.json', 'temporal.db', ...(process.env.ROLYPLAY_STORE ? [] : ['results.sqlite'])]) expect(existsSync(join(runDir, f)), f).toBe(true);

    const status = await runCli(['status', 'cli-run', '--output', join(dir, 'runs')], dir);
    expect(status.stdout).toContain('cells stored: 64 / 64');
    const json = await runCli(['results', runDir, '--format', 'json'], dir);
    expect(JSON.parse(json.stdout).per_persona).toHaveLength(4);
    const csv = await runCli(['results', runDir, '--format', 'csv'], dir);
    expect(csv.stdout.trim().split('\n')).toHaveLength(65);
  });

  it('resumes after Ctrl-C without redoing finished cells', async () => {
    const dir = tmpDir();
    const file = writeConfig(dir, 'cli-resume');
    fake.reset();
    fake.setLatency(150);
    try {
      const p = startCli(['run', file, '--headless'], dir);
      const end = Date.now() + 90_000;
      while (fake.calls.length < 20 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const sent = p.now();
      p.proc.kill('SIGINT');
      const { code, seconds } = await p.exited;
      const stderr = p.stderr;
      expect(code, stderr).toBe(0);
      // Ctrl-C ends in about 2 s (in-flight batches get 1.5 s to report); the margin is for a loaded machine.
      expect(seconds - sent, stderr).toBeLessThan(8);
      // What was kept and how to resume; no SDK or core log line on the console.
      expect(stderr).toMatch(/stopped in [\d.]+ s: \d+ of 64 cells are kept in .*cli-resume; `rolyplay run .*cli-resume\.yaml` again resumes it/);
      expect(stderr + p.stdout).not.toMatch(RAW_NOISE);
      const outDir = join(dir, 'runs');
      const before = await storedCells(outDir, 'cli-resume');
      expect(before.length).toBeGreaterThan(0);
      expect(before.length).toBeLessThan(64);
      const callsBefore = fake.calls.length;

      const again = await runCli(['run', file, '--headless'], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('attached to run cli-resume');
      expect(await storedCells(outDir, 'cli-resume')).toHaveLength(64);
      // No cell stored before the interruption was asked of the model again.
      const redone = fake.calls.slice(callsBefore).filter((c) => before.some((cell) => isPromptOf(c.key, cell)));
      expect(redone).toHaveLength(0);
    } finally {
      fake.setLatency(0);
    }
  });
});

/** Whether a prompt sent to the model is the one of a stored cell (item ids are subject/split/index). */
function isPromptOf(prompt: string, cell: { persona: string; item: string }): boolean {
  const [subject, , index] = cell.item.split('/');
  const q = questions.find((x) => x.subject === subject && x.index === Number(index));
  const persona = cell.persona === 'none' ? !prompt.includes('If you were a ') : prompt.includes(`If you were a ${cell.persona}, which`);
  return q !== undefined && prompt.includes(`Question: ${q.question}\nA: `) && persona;
}

describe('temporal workflow start', () => {
  it('starts a run from the Temporal CLI with the documented JSON input', async () => {
    const h = await harness();
    try {
      await h.startWorker();
      const outDir = tmpDir();
      const input = { config: mmluConfig({ baseURL: fake.baseURL, taskQueue: h.taskQueue, outDir, name: 'from-temporal-cli' }) };
      const workflowId = `tcli-${randomUUID()}`;
      await promisify(execFile)(inject('temporalCli'), [
        'workflow', 'start', '--type', 'experimentWorkflow', '--task-queue', h.taskQueue, '--workflow-id', workflowId,
        '--input', JSON.stringify(input), '--address', h.address,
      ]);
      const result = await h.client.workflow.getHandle(workflowId).result();
      expect(result.cells).toBe(64);
      expect(result.personas.find((p: { persona: string }) => p.persona === 'anatomy expert')).toMatchObject(expectedCorrect(questions, 'anatomy expert', 'logits'));
    } finally {
      await h.close();
    }
  });
});
