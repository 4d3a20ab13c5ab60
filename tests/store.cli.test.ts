/**
 * A bad ROLYPLAY_STORE stops `rolyplay worker`, `run` and `results` at once (exit 2), with the variable, the
 * problem and the fix, and without echoing the password; no Temporal server is started for it.
 */
import { describe, expect, inject, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../experiment/load.js';
import { tmpDir } from './support/harness.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

function rolyplay(args: string[], store: string): { status: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: tmpDir(),
    env: { ...process.env, ROLYPLAY_STORE: store, TEMPORAL_ADDRESS: inject('temporalAddress') },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('bad ROLYPLAY_STORE', () => {
  it.each([
    ['worker', ['worker', '--task-queue', 'never-used']],
    ['run', ['run', join(PACKAGE_ROOT, 'configs', 'mmlu-demo.yaml'), '--no-worker', '--detach']],
    ['results', ['results', 'some-run']],
  ])('%s: a value that is not a postgres URL', (_name, args) => {
    const r = rolyplay(args, 'mysql://root:hunter2-secret@127.0.0.1/x');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('ROLYPLAY_STORE: must be a postgres:// URL');
    expect(r.stderr).toContain('Fix: set it to postgres://');
    expect(r.stderr).not.toContain('hunter2-secret');
  });

  it('worker: an unreachable database fails at start, fast', () => {
    const r = rolyplay(['worker', '--task-queue', 'never-used'], 'postgres://roly:hunter2-secret@127.0.0.1:1/rolyplay');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('ROLYPLAY_STORE: cannot use the PostgreSQL store at postgres://127.0.0.1:1/rolyplay');
    expect(r.stderr).toContain('Fix: start PostgreSQL there or correct host and port');
    expect(r.stderr).not.toContain('hunter2-secret');
    expect(r.ms).toBeLessThan(20_000);
  });
});
