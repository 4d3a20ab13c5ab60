/**
 * Issue 11, the local run lifecycle, with real processes: one owner per run folder (a second `run` attaches, a
 * kill -9'd owner's dev server is reused), `--detach` + `stop`, and every environment failure (bad output folder,
 * unreachable TEMPORAL_ADDRESS, a killed dev server, a full disk) as a clear error in seconds that loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../server/devServer.js';
import { progressStats } from '../cli/watch.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { storedCells } from './support/cells.js';
import { cliEnv, processesWith, RAW_NOISE, runCli, startCli, writeCliConfig } from './support/cli.js';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(questions), apiKey: 'sk-test' });
});
afterAll(async () => fake?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  const ok = async () => {
    try {
      return await cond();
    } catch {
      return false; // e.g. the store exists but its schema is not written yet
    }
  };
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const ownerOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'owner.json'), 'utf8')) as { pid: number; serverPid?: number };

describe('one owner per run folder', () => {
  let finishedRun: { dir: string; runDir: string } | undefined;

  it('a second run of the same name attaches to the first: one dev server on the db, both print the table', async () => {
    const dir = tmpDir();
    const file = writeCliConfig(dir, 'twice', fake.baseURL);
    const runDir = join(dir, 'runs', 'twice');
    const db = join(runDir, 'temporal.db');
    fake.setLatency(300);
    try {
      const a = startCli(['run', file, '--headless'], dir);
      await a.waitFor(/^started run twice/);
      const b = startCli(['run', file, '--headless'], dir);
      let most = 0;
      const sampler = setInterval(() => (most = Math.max(most, processesWith(db).length)), 200);
      const [ra, rb] = await Promise.all([a.exited, b.exited]);
      clearInterval(sampler);
      expect(ra.code, a.stderr).toBe(0);
      expect(rb.code, b.stderr).toBe(0);
      expect(b.stderr).toMatch(/run twice is owned by process \d+: attaching to it/);
      expect(b.stderr).not.toContain('local Temporal dev server');
      expect(most).toBe(1);
      for (const r of [a, b]) expect(r.stderr).toContain('64 cells (0 discarded) of 64');
      // The owner does not wait for its server's ~3 s graceful stop; the server is gone soon after.
      await until('the dev server to stop', () => processesWith(db).length === 0, 15_000);
      finishedRun = { dir, runDir };
    } finally {
      fake.setLatency(0);
    }
  });

  it('kill -9 of run leaves its dev server; the next run reuses it, finishes, and leaves nothing running', async () => {
    const dir = tmpDir();
    const file = writeCliConfig(dir, 'killed', fake.baseURL);
    const runDir = join(dir, 'runs', 'killed');
    fake.setLatency(300);
    try {
      const first = startCli(['run', file, '--headless'], dir);
      await first.waitFor(/^started run killed/);
      await until('some cells', async () => (await storedCells(join(dir, 'runs'), 'killed')).length > 0);
      first.proc.kill('SIGKILL');
      await first.exited;
      const orphan = ownerOf(runDir).serverPid as number;
      expect(processesWith(join(runDir, 'temporal.db'))).toEqual([orphan]);

      const again = await runCli(['run', file, '--headless'], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain(`reusing the dev server left running by an interrupted rolyplay (pid ${orphan})`);
      expect(again.stderr).toContain('64 cells (0 discarded) of 64');
      expect(await storedCells(join(dir, 'runs'), 'killed')).toHaveLength(64);
      await until('the dev server to stop', () => processesWith(join(runDir, 'temporal.db')).length === 0, 15_000);
    } finally {
      fake.setLatency(0);
    }
  });

  it('run --detach leaves the run going in the background; status shows it; stop ends it; run resumes it', async () => {
    const dir = tmpDir();
    const file = writeCliConfig(dir, 'bg', fake.baseURL);
    const runDir = join(dir, 'runs', 'bg');
    const outDir = join(dir, 'runs');
    fake.setLatency(3000); // ~48 s of scoring: status and stop come well before the end
    try {
      const d = await runCli(['run', file, '--headless', '--detach'], dir);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stderr).toMatch(/run bg goes on in the background \(process (\d+), Temporal 127\.0\.0\.1:\d+\)/);
      const pid = Number(/background \(process (\d+)/.exec(d.stderr)?.[1]);
      // The foreground process is gone, the run is not: cells keep arriving.
      await until('cells from the background run', async () => (await storedCells(outDir, 'bg')).length > 0);
      const status = await runCli(['status', 'bg', '--output', outDir], dir);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`owner: process ${pid} (background`);
      expect(status.stdout).toContain('workflow rolyplay-bg: RUNNING');
      expect(status.stdout).toMatch(/cells stored: \d+ \/ 64/);
      // `ls` tells a run that is going from one that stopped part-way.
      // (With a shared store, ROLYPLAY_TEST_STORE=postgres, `ls` lists every run of this file's database: keep this one.)
      const lsRunning = (JSON.parse((await runCli(['ls', '--output', outDir, '--format', 'json'], dir)).stdout) as { run: string; state: string; pid?: number }[]).filter((r) => r.run === 'bg');
      expect(lsRunning).toEqual([expect.objectContaining({ run: 'bg', state: 'running', pid })]);

      // Another config under the running run's name is refused (it attaches to the owner, then says why).
      const other = await runCli(['run', file, 'data.limit=4', '--headless'], dir);
      expect(other.code, other.stderr).toBe(2);
      expect(other.stderr).toMatch(/run bg in .* was started with a different config and has \d+ results stored\. Fix: run it with its original config/);

      const stop = await runCli(['stop', 'bg', '--output', outDir], dir);
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.stdout).toMatch(new RegExp(`stopped run bg \\(process ${pid}\\) in [\\d.]+ s; \\d+ results stored in .* are kept`));
      // `stop` returns once the owner is gone; its dev server's graceful stop (~3 s) may still be finishing.
      const serverGone = Date.now() + 20_000;
      while (processesWith(join(runDir, 'temporal.db')).length > 0 && Date.now() < serverGone) await new Promise((r) => setTimeout(r, 250));
      expect(processesWith(join(runDir, 'temporal.db'))).toEqual([]);
      expect(() => process.kill(pid, 0)).toThrow();
      const kept = (await storedCells(outDir, 'bg')).length;
      expect(kept).toBeLessThan(64);
      expect(readFileSync(join(runDir, 'run.log'), 'utf8')).toMatch(/stopping: letting in-flight batches report/);
      const lsStopped = (JSON.parse((await runCli(['ls', '--output', outDir, '--format', 'json'], dir)).stdout) as { run: string; state: string }[]).filter((r) => r.run === 'bg');
      expect(lsStopped).toEqual([expect.objectContaining({ run: 'bg', state: 'incomplete' })]);

      fake.setLatency(0);
      const again = await runCli(['run', file, '--headless'], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(await storedCells(outDir, 'bg')).toHaveLength(64);
    } finally {
      fake.setLatency(0);
    }
  });

  it('status shows the stored counts when TEMPORAL_ADDRESS is unreachable', async () => {
    expect(finishedRun).toBeDefined();
    const { dir, runDir } = finishedRun as { dir: string; runDir: string };
    const port = await freePort();
    const r = await runCli(['status', runDir], dir, cliEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cells stored: 64 / 64');
    expect(r.stdout).toContain(`workflow: unknown: cannot reach Temporal at 127.0.0.1:${port} (TEMPORAL_ADDRESS) within 3 s`);
    expect(r.seconds).toBeLessThan(15);
  });
});

describe('environment failures are clear errors in seconds', () => {
  it('an output folder that cannot be created or is a file: named, with the fix, before any server starts', async () => {
    const dir = tmpDir();
    const file = writeCliConfig(dir, 'badout', fake.baseURL);
    const proc = await runCli(['run', file, 'output.dir=/proc/nope', '--headless'], dir);
    expect(proc.code, proc.stderr).toBe(1);
    expect(proc.stderr).toMatch(/^error: cannot write \/proc\/nope\/badout \(ENOENT: .*\)\. Fix: .*set output\.dir to a writable folder/m);
    writeFileSync(join(dir, 'afile'), 'x');
    const asFile = await runCli(['run', file, `output.dir=${join(dir, 'afile')}`, '--headless'], dir);
    expect(asFile.code, asFile.stderr).toBe(1);
    expect(asFile.stderr).toMatch(/^error: cannot write .*afile\/badout \((ENOTDIR|EEXIST): .*\)\. Fix: .*set output\.dir to a folder/m);
    for (const r of [proc, asFile]) {
      expect(r.stderr).not.toMatch(RAW_NOISE);
      expect(r.stderr).not.toContain('dev server');
      expect(r.seconds).toBeLessThan(15);
    }
  });

  it('an unreachable TEMPORAL_ADDRESS: the address and the fix', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const r = await runCli(['run', writeCliConfig(dir, 'noaddr', fake.baseURL), '--headless'], dir, cliEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: cannot reach Temporal at 127\\.0\\.0\\.1:${port} \\(TEMPORAL_ADDRESS\\) within 5 s: .*\\. Fix: start that cluster or correct TEMPORAL_ADDRESS`, 'm'));
    expect(r.stderr).not.toMatch(RAW_NOISE);
    expect(r.seconds).toBeLessThan(20);
  });

  it('a killed dev server: named, with its log and how to resume; nothing stored is lost', async () => {
    const dir = tmpDir();
    const file = writeCliConfig(dir, 'deadsrv', fake.baseURL);
    const runDir = join(dir, 'runs', 'deadsrv');
    fake.setLatency(300);
    try {
      const p = startCli(['run', file, '--headless'], dir);
      await p.waitFor(/^started run deadsrv/);
      await until('some cells', async () => (await storedCells(join(dir, 'runs'), 'deadsrv')).length > 0);
      const serverPid = ownerOf(runDir).serverPid as number;
      const killedAt = p.now();
      process.kill(serverPid, 'SIGKILL');
      const { code, seconds } = await p.exited;
      expect(code, p.stderr).toBe(1);
      expect(seconds - killedAt).toBeLessThan(15);
      expect(p.stderr).toMatch(new RegExp(`error: the local Temporal dev server \\(pid ${serverPid}, 127\\.0\\.0\\.1:\\d+\\) exited unexpectedly; its log is .*temporal\\.db\\.log\\. Fix: run \`rolyplay run .*deadsrv\\.yaml\` again: .*\\(\\d+ of 64 cells are kept\\)`));
      expect(p.stderr).not.toMatch(RAW_NOISE);
      fake.setLatency(0);
      const again = await runCli(['run', file, '--headless'], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(await storedCells(join(dir, 'runs'), 'deadsrv')).toHaveLength(64);
    } finally {
      fake.setLatency(0);
    }
  });

  const canMount = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = tmpDir('rolyplay-mount-probe-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
      execFileSync('umount', [probe]);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!canMount)('a disk that fills mid-run: the path and the fix within seconds; a rerun after freeing space finishes', async () => {
    const dir = tmpDir();
    const disk = join(dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', disk]);
    try {
      const file = writeCliConfig(dir, 'full', fake.baseURL, { output: disk });
      const runDir = join(disk, 'full');
      fake.setLatency(300);
      const p = startCli(['run', file, '--headless'], dir);
      await p.waitFor(/^started run full/);
      await until('some cells', async () => (await storedCells(disk, 'full')).length > 0);
      // Fill the disk (dd stops at ENOSPC).
      const filledAt = p.now();
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=1M'], { stdio: 'ignore' });
      } catch {
        // "No space left on device" is the point
      }
      const { code, seconds } = await p.exited;
      expect(code, p.stderr).toBe(1);
      expect(seconds - filledAt).toBeLessThan(20);
      expect(p.stderr).toMatch(new RegExp(`error: the disk holding ${runDir} is full \\(\\d+ bytes free\\)\\. Fix: free space there .*then run \`rolyplay run .*full\\.yaml\` again`));
      expect(p.stderr).not.toMatch(RAW_NOISE);
      const kept = (await storedCells(disk, 'full')).length;
      rmSync(join(disk, 'filler'));
      fake.setLatency(0);
      const again = await runCli(['run', file, '--headless'], dir);
      expect(again.code, again.stderr).toBe(0);
      const all = await storedCells(disk, 'full');
      expect(all).toHaveLength(64);
      expect(all.length).toBeGreaterThanOrEqual(kept);
    } finally {
      fake.setLatency(0);
      for (const pid of processesWith(disk)) process.kill(pid, 'SIGKILL');
      await sleep(500);
      execFileSync('umount', ['-l', disk]);
    }
  });
});

describe('progress line', () => {
  it('shows "-" until a rate is known, never NaN or Infinity, and smooths shard-sized steps', () => {
    expect(progressStats([], 64)).toEqual({ rate: '-', eta: '-' });
    expect(progressStats([{ t: 0, done: 0 }], 64)).toEqual({ rate: '-', eta: '-' });
    expect(progressStats([{ t: 0, done: 0 }, { t: 5000, done: 0 }], 64)).toEqual({ rate: '-', eta: '-' });
    // Shards report every 3 s: 30 cells per step, sampled every 0.5 s. The rate stays near 10/s, never 0 or 60.
    const samples = [];
    const rates: number[] = [];
    for (let t = 0; t <= 30_000; t += 500) {
      samples.push({ t, done: Math.floor(t / 3000) * 30 });
      const { rate, eta } = progressStats(samples, 1000);
      expect(eta).not.toMatch(/NaN|Inf/);
      if (t >= 6000) rates.push(Number(rate));
    }
    expect(Math.min(...rates)).toBeGreaterThan(6);
    expect(Math.max(...rates)).toBeLessThan(16);
    expect(progressStats(samples, 1000).eta).toMatch(/^1m \d\ds$/);
  });
});
