/** Spawning the real `rolyplay` CLI (dist/) as a user does, with every output line timed. */
import { inject } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../experiment/load.js';
import { mmluConfig } from './harness.js';

export const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

/** The user's environment: the test key, the pinned temporal CLI, no external cluster. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_OPENAI_KEY: 'sk-test', TEMPORAL_CLI: inject('temporalCli'), ...extra };
  if (!('TEMPORAL_ADDRESS' in extra)) delete env.TEMPORAL_ADDRESS;
  return env;
}

/** An MMLU config for the CLI (default task queue) written to `<dir>/<name>.yaml`, output in `<dir>/runs`. */
export function writeCliConfig(dir: string, name: string, baseURL: string, extra: Partial<Parameters<typeof mmluConfig>[0]> & { output?: string; scoring?: Record<string, unknown> } = {}): string {
  const { output, scoring, ...rest } = extra;
  const cfg = mmluConfig({ baseURL, taskQueue: 'rolyplay', outDir: output ?? join(dir, 'runs'), name, ...rest });
  delete (cfg.execution as Record<string, unknown>).task_queue;
  if (scoring) cfg.scoring = { ...(cfg.scoring as object), ...scoring };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  return file;
}

export interface CliRun {
  proc: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Seconds since start at which a line matching `re` appeared (waits for it; rejects on exit or timeout). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<number>;
  /** Seconds since start. */
  now(): number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>;
}

export function startCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = cliEnv()): CliRun {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env });
  let stdout = '';
  let stderr = '';
  const lines: { t: number; text: string }[] = [];
  const waiters = new Set<() => void>();
  const onData = (which: 'out' | 'err') => (d: Buffer) => {
    const text = String(d);
    if (which === 'out') stdout += text;
    else stderr += text;
    for (const l of text.split('\n')) if (l) lines.push({ t: (Date.now() - t0) / 1000, text: l });
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', onData('out'));
  proc.stderr?.on('data', onData('err'));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>((resolve) =>
    proc.on('exit', (code, signal) => {
      done = true;
      for (const w of waiters) w();
      resolve({ code, signal, seconds: (Date.now() - t0) / 1000 });
    }),
  );
  return {
    proc,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    now: () => (Date.now() - t0) / 1000,
    exited,
    waitFor(re, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l.text));
          if (hit) return finish(() => resolve(hit.t));
          if (done) return finish(() => reject(new Error(`CLI exited before printing ${re}:\n${stderr}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${timeoutMs} ms:\n${stderr}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export async function runCli(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const r = startCli(args, cwd, env);
  const { code, seconds } = await r.exited;
  return { code, stdout: r.stdout, stderr: r.stderr, seconds };
}

/** Pids of processes whose command line mentions `needle` (e.g. a run folder's temporal.db). */
export function processesWith(needle: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').some((a) => a.includes(needle))) pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

/** No stack trace and no SDK/core log line reached the user. */
export const RAW_NOISE = /\n\s+at [\w.<]|ServiceError|\bWARN\b|temporal_sdk_core/;
