/**
 * `rolyplay pause|resume|throttle <run>`: run control of a running run (workflows/control.ts), by Temporal update, so
 * the command prints the state the workflow accepted. The workflow is found where `status` finds it: the external
 * cluster ($TEMPORAL_ADDRESS) or the dev server of the process that owns the local run.
 */
import { basename } from 'node:path';
import { Client, WorkflowUpdateFailedError, type Connection } from '@temporalio/client';
import { connectOrExplain } from '../connect.js';
import { isAlive, readOwner } from '../owner.js';
import { findRunDir } from './stop.js';
import { workflowIdFor } from '../runs.js';
import { InputError } from '../../experiment/errors.js';
import { pauseUpdate, resumeUpdate, setConcurrencyUpdate, setRateUpdate, type ControlState } from '../../workflows/control.js';
import type { Budget } from '../../control/budget.js';

async function onRun(run: string, output: string, fn: (client: Client, workflowId: string, name: string) => Promise<ControlState>): Promise<void> {
  let dir: string | undefined;
  try {
    dir = findRunDir(run, output);
  } catch (err) {
    if (!process.env.TEMPORAL_ADDRESS) throw err;
  }
  const name = basename(dir ?? run);
  const owner = dir ? readOwner(dir) : undefined;
  const address = process.env.TEMPORAL_ADDRESS ?? (owner && isAlive(owner.pid) ? owner.address : undefined);
  if (!address) {
    throw new InputError('run', `run ${name} is not running here (no TEMPORAL_ADDRESS and no live owner of ${dir})`, `start it with \`rolyplay run <config>\`, or set TEMPORAL_ADDRESS to the cluster it runs on`);
  }
  let connection: Connection | undefined;
  try {
    connection = await connectOrExplain(address, address === process.env.TEMPORAL_ADDRESS, 5000);
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
    const state = await fn(client, workflowIdFor(name), name).catch((err: unknown) => {
      if (err instanceof WorkflowUpdateFailedError) {
        let root: Error = err;
        while (root.cause instanceof Error) root = root.cause;
        throw new InputError('run', `run ${name} refused the change: ${root.message}`, 'correct the value');
      }
      throw err;
    });
    process.stdout.write(`${describeState(name, state)}\n`);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export function describeState(name: string, s: ControlState): string {
  const parts = [`run ${name}: ${s.paused ? `paused (${s.reason ?? s.pausedBy ?? 'paused'})` : 'running'}`];
  if (s.budget) parts.push(`budget ${Object.entries(s.budget).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (s.shardsInFlight !== undefined) parts.push(`shards in flight ${s.shardsInFlight}`);
  if (s.batchesInFlight !== undefined) parts.push(`batches in flight ${s.batchesInFlight}`);
  if (s.rate) parts.push(`rate${s.rate.rpm !== undefined ? ` rpm=${s.rate.rpm}` : ''}${s.rate.tpm !== undefined ? ` tpm=${s.rate.tpm}` : ''}`);
  return parts.join('; ');
}

export async function pauseCommand(run: string, opts: { output: string; reason?: string }): Promise<void> {
  await onRun(run, opts.output, (c, id) => c.workflow.getHandle(id).executeUpdate(pauseUpdate, { args: [opts.reason ? { reason: opts.reason } : {}] }));
}

export async function resumeCommand(run: string, opts: { output: string; budgetUsd?: number; budgetRequests?: number; budgetTokens?: number }): Promise<void> {
  const budget: Budget = {
    ...(opts.budgetUsd !== undefined ? { usd: opts.budgetUsd } : {}),
    ...(opts.budgetRequests !== undefined ? { requests: opts.budgetRequests } : {}),
    ...(opts.budgetTokens !== undefined ? { tokens: opts.budgetTokens } : {}),
  };
  await onRun(run, opts.output, (c, id) => c.workflow.getHandle(id).executeUpdate(resumeUpdate, { args: [Object.keys(budget).length ? { budget } : {}] }));
}

export async function throttleCommand(run: string, opts: { output: string; rpm?: number; tpm?: number; batches?: number; shards?: number }): Promise<void> {
  if ([opts.rpm, opts.tpm, opts.batches, opts.shards].every((v) => v === undefined)) {
    throw new InputError('throttle', 'nothing to change', 'pass --rpm N, --tpm N, --batches N and/or --shards N');
  }
  await onRun(run, opts.output, async (c, id) => {
    const h = c.workflow.getHandle(id);
    let state: ControlState | undefined;
    if (opts.rpm !== undefined || opts.tpm !== undefined) {
      state = await h.executeUpdate(setRateUpdate, { args: [{ ...(opts.rpm !== undefined ? { rpm: opts.rpm } : {}), ...(opts.tpm !== undefined ? { tpm: opts.tpm } : {}) }] });
    }
    if (opts.batches !== undefined || opts.shards !== undefined) {
      state = await h.executeUpdate(setConcurrencyUpdate, { args: [{ ...(opts.batches !== undefined ? { batches: opts.batches } : {}), ...(opts.shards !== undefined ? { shards: opts.shards } : {}) }] });
    }
    return state as ControlState;
  });
}
