/**
 * Issue 12: API runs against an OpenAI-compatible server that is not where the config says. Planning's failures
 * reach the console within seconds and a server that stays unreachable fails the run with the address and the fix;
 * a server that comes up during planning lets the run go on; a corrected config replaces a stuck run that stored
 * nothing. Real CLI processes, their own dev servers, the fake OpenAI server over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../server/devServer.js';
import { loadExperiment } from '../experiment/load.js';
import { configWarnings } from '../cli/commands/run.js';
import { PLAN_MAX_ATTEMPTS } from '../workflows/index.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { harness, mmluConfig, tmpDir } from './support/harness.js';
import { answerFor, mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';
import { RAW_NOISE, runCli, startCli, writeCliConfig } from './support/cli.js';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
let fake: FakeOpenAI;

beforeAll(async () => {
  // Like llama.cpp's server: lists the one model it serves and answers whatever model name is asked for.
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test', listedModels: ['served-model'] });
});
afterAll(async () => fake?.close());

describe('planning against an unreachable backend', () => {
  it('closed port: every attempt reaches the console, then the run fails with the address and the fix', async () => {
    const dir = tmpDir();
    const port = await freePort(); // nothing listens there
    const file = writeCliConfig(dir, 'closed-port', `http://127.0.0.1:${port}/v1`);
    const p = startCli(['run', file, '--headless'], dir);
    const started = await p.waitFor(/^started run closed-port/);
    const first = await p.waitFor(/^planning: attempt \d of 5 failed, (retrying|last attempt running)/);
    const { code, seconds } = await p.exited;
    expect(code, p.stderr).toBe(1);
    // Typically 1-2 s after the start and ~20 s in all (1+2+4+8 s of backoff); margins for a loaded machine.
    expect(first - started, p.stderr).toBeLessThan(15);
    expect(seconds - started, p.stderr).toBeLessThan(60);
    expect(p.stderr).toContain(`at http://127.0.0.1:${port}/v1): connection failed`);
    expect(p.stderr).toMatch(/error: the run failed: .*ECONNREFUSED.*Fix: start the server, or point model\.base_url/);
    expect(p.stderr.match(/^planning: attempt \d of 5 failed/gm)?.length ?? 0).toBeGreaterThanOrEqual(PLAN_MAX_ATTEMPTS - 2);
    expect(p.stderr + p.stdout).not.toMatch(RAW_NOISE);
  });

  it('port opened later: the run goes on once the server listens', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const file = writeCliConfig(dir, 'late-port', `http://127.0.0.1:${port}/v1`);
    const p = startCli(['run', file, '--headless'], dir);
    let late: FakeOpenAI | undefined;
    try {
      await p.waitFor(/^planning: attempt \d of 5 failed/);
      late = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test', port });
      const { code } = await p.exited;
      expect(code, p.stderr).toBe(0);
      expect(p.stderr).toContain('64 cells (0 discarded) of 64');
      expect(await storedCells(join(dir, 'runs'), 'late-port')).toHaveLength(64);
    } finally {
      p.proc.kill('SIGKILL');
      await late?.close();
    }
  });
});

describe('a re-run with a changed config', () => {
  it('replaces a stuck run that stored nothing; refuses to mix configs once results are stored', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const stuck = startCli(['run', writeCliConfig(dir, 'fixme', `http://127.0.0.1:${port}/v1`), '--headless'], dir);
    await stuck.waitFor(/^planning: attempt \d of 5 failed/);
    stuck.proc.kill('SIGINT'); // the workflow stays in the db, still planning against the wrong port
    expect((await stuck.exited).code, stuck.stderr).toBe(0);

    // Same name, corrected base_url: the stuck workflow must not swallow it.
    const file = writeCliConfig(dir, 'fixme', fake.baseURL);
    const fixed = await runCli(['run', file, '--headless'], dir);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stderr).toContain('run fixme was running with a different config and had stored nothing: replaced it with this config');
    expect(fixed.stderr).toContain('64 cells (0 discarded) of 64');
    // The server answers any model name: said before the run, naming both names.
    expect(fixed.stderr).toContain('lists the models "served-model" but not "test-model" (model.model)');

    // Results stored: another config under the same name is refused, in milliseconds, with the fix.
    const other = await runCli(['run', writeCliConfig(dir, 'fixme', fake.baseURL, { limit: 4 }), '--headless'], dir);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/run fixme in .* was started with a different config and has 64 results stored\. Fix: .*another name \(name=\.\.\.\)/);
    expect(await storedCells(join(dir, 'runs'), 'fixme')).toHaveLength(64);
  });
});

describe('what the run tells about the server', () => {
  it('metrics.json counts cells scored from a partial top_logprobs list and the absent options', async () => {
    const h = await harness();
    try {
      await h.startWorker();
      const outDir = tmpDir();
      const config = mmluConfig({ baseURL: fake.baseURL, taskQueue: h.taskQueue, outDir, name: 'partial-top' });
      // The server returns only its 2 best tokens: the answer and the best other letter.
      (config.model as Record<string, unknown>).top_logprobs = 2;
      const result = await h.run({ config });
      expect(result.cells).toBe(64);
      const metrics = JSON.parse(readFileSync(join(outDir, 'partial-top', 'metrics.json'), 'utf8'));
      // Expected from the policy's ranking alone: answer L at -0.05, then A -3, B -3.5, C -4, D -4.5.
      const absent: Record<string, number> = {};
      for (const q of questions) {
        for (const persona of ['abstract algebra expert', 'anatomy expert', 'poet', 'none']) {
          const prompt = `If you were a ${persona}, which answer would you choose?\nQuestion: ${q.question}\nA: `;
          const letter = answerFor(questions, persona === 'none' ? `Question: ${q.question}\nA: ` : prompt);
          const top = new Set([letter, ...['A', 'B', 'C', 'D'].filter((l) => l !== letter)].slice(0, 2));
          for (const l of ['A', 'B', 'C', 'D']) if (!top.has(l)) absent[l] = (absent[l] ?? 0) + 1;
        }
      }
      expect(metrics.top_logprobs).toEqual({ complete: 0, partial: 64, absent });
    } finally {
      await h.close();
    }
  });

  it('warns when generate mode has no max_tokens against an API server', () => {
    const dir = tmpDir();
    const bare = loadExperiment(writeCliConfig(dir, 'gen-bare', fake.baseURL, { mode: 'generate' }), []);
    expect(configWarnings(bare).join('\n')).toMatch(/scoring\.mode generate without scoring\.max_tokens: .*re-asked up to max_tries \(10\) times; set scoring\.max_tokens/);
    const capped = loadExperiment(writeCliConfig(dir, 'gen-capped', fake.baseURL, { mode: 'generate', scoring: { max_tokens: 1 } }), []);
    expect(configWarnings(capped)).toEqual([]);
    const logits = loadExperiment(writeCliConfig(dir, 'logits', fake.baseURL), []);
    expect(configWarnings(logits)).toEqual([]);
  });
});
