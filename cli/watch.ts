/**
 * What the CLI shows while it waits: a smoothed rate and an ETA that is never NaN/Infinity, and the last failure of
 * every retrying activity (planning's preflight, a batch), read from the workflow's and its shards' pending
 * activities, so an unreachable backend reaches the console in seconds instead of only worker.log.
 */
import type { Client } from '@temporalio/client';

export interface Sample {
  t: number;
  done: number;
}

/** Rate over the last `windowMs` (shards report every few seconds, so per-second rates would flicker 0/spike). */
export function progressStats(samples: Sample[], total: number, windowMs = 20_000): { rate: string; eta: string } {
  const last = samples[samples.length - 1];
  if (!last) return { rate: '-', eta: '-' };
  const from = samples.find((s) => last.t - s.t <= windowMs) ?? samples[0]!;
  const first = samples[0]!;
  // Too short a span says nothing yet; measure from the first sample if the window holds no progress.
  const base = last.done > from.done ? from : first;
  const dt = (last.t - base.t) / 1000;
  const rate = dt >= 2 && last.done > base.done ? (last.done - base.done) / dt : undefined;
  if (rate === undefined) return { rate: '-', eta: last.done >= total && total > 0 ? '0s' : '-' };
  return { rate: rate >= 10 ? rate.toFixed(0) : rate.toFixed(1), eta: formatDuration(Math.max(0, total - last.done) / rate) };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ActivityProblem {
  /** e.g. "planning" or "batch 3 of shard-1" */
  what: string;
  attempt: number;
  maximumAttempts: number;
  message: string;
}

/** Last failures of the pending activities of the workflow and of its running shards. */
export async function activityProblems(client: Client, workflowId: string): Promise<ActivityProblem[]> {
  const problems: ActivityProblem[] = [];
  const collect = async (id: string, label: (activityType: string, activityId: string) => string) => {
    const d = await client.workflow.getHandle(id).describe();
    for (const a of d.raw.pendingActivities ?? []) {
      const message = a.lastFailure?.message;
      if (!message) continue;
      const type = a.activityType?.name ?? 'activity';
      problems.push({ what: label(type, a.activityId ?? ''), attempt: a.attempt ?? 1, maximumAttempts: a.maximumAttempts ?? 0, message });
    }
    return d;
  };
  const parent = await collect(workflowId, (type) => (type === 'planExperiment' ? 'planning' : type === 'reduceExperiment' ? 'writing the results' : type));
  const children = (parent.raw.pendingChildren ?? []).map((c) => c.workflowId).filter((id): id is string => !!id);
  await Promise.all(
    children.map((id) =>
      collect(id, (type, activityId) => `${type === 'runBatch' ? 'a batch' : type} (${id.slice(workflowId.length + 1)}, activity ${activityId})`).catch(() => undefined),
    ),
  );
  return problems;
}

/** Prints each distinct failure once, and again (with the attempt) at most every `repeatMs`. */
export class ProblemReporter {
  private readonly shown = new Map<string, number>();
  constructor(private readonly print: (line: string) => void, private readonly repeatMs = 15_000) {}

  report(problems: ActivityProblem[], now = Date.now()): void {
    for (const p of problems) {
      // A storm of batches failing alike is one line: key on what kind of activity and the message.
      // Bounded retries (planning) show every attempt.
      const key = `${p.what.split(' (')[0]}\u0000${p.message}${p.maximumAttempts > 0 ? `\u0000${p.attempt}` : ''}`;
      const last = this.shown.get(key);
      if (last !== undefined && now - last < this.repeatMs) continue;
      this.shown.set(key, now);
      const of = p.maximumAttempts > 0 ? ` of ${p.maximumAttempts}` : '';
      const next = p.maximumAttempts > 0 && p.attempt >= p.maximumAttempts ? 'last attempt running' : 'retrying';
      this.print(`${p.what}: attempt ${p.attempt - 1}${of} failed, ${next}: ${p.message}`);
    }
  }
}
