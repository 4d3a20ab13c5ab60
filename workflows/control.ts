/**
 * Run control in the workflows (issue 11): pause, resume (optionally with a new budget), change concurrency or rate
 * while a run goes, and the pause a used budget or the provider's quota causes. Updates arrive at the experiment
 * workflow, which answers with the new state and forwards it to its running shards by signal; batches carry the
 * budget and rate to the workers (activities/control.ts). Deterministic: only handler state and `condition`; the
 * only commands it adds (signals to shards, when an update arrives) cannot occur in histories of older code.
 */
import { ApplicationFailure, condition, defineQuery, defineSignal, defineUpdate, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import type { Budget } from '../control/budget.js';
import type { BatchControl } from '../activities/control.js';

/** Activity failure types that pause the run instead of failing it. */
export const PAUSE_TYPES = ['BudgetExhausted', 'QuotaExhausted'] as const;
export type PauseType = (typeof PAUSE_TYPES)[number];

export interface ControlState {
  paused: boolean;
  /** Who paused: the user (`pause`), or the type of the failure that did. */
  pausedBy?: 'user' | PauseType;
  reason?: string;
  budget?: Budget;
  /** Overrides of the plan's shards_in_flight / batches_in_flight. */
  shardsInFlight?: number;
  batchesInFlight?: number;
  /** Set by `setRate`: written to the fleet-wide bucket by the next batch of any worker. */
  rate?: { rpm?: number; tpm?: number; version: number };
  /** Shards stopped by a pause, to run again on resume (they skip what is stored). */
  retryShards?: number[];
}

export const pauseUpdate = defineUpdate<ControlState, [{ reason?: string }]>('pause');
export const resumeUpdate = defineUpdate<ControlState, [{ budget?: Budget }]>('resume');
export const setConcurrencyUpdate = defineUpdate<ControlState, [{ shards?: number; batches?: number }]>('setConcurrency');
export const setRateUpdate = defineUpdate<ControlState, [{ rpm?: number; tpm?: number }]>('setRate');
export const controlQuery = defineQuery<ControlState>('control');
/** Parent → running shard: the whole control state. */
export const controlSignal = defineSignal<[ControlState]>('control');

export class RunControl {
  state: ControlState;
  private readonly children = new Set<string>();

  constructor(initial: ControlState | undefined, private readonly onChange: () => void) {
    this.state = initial ?? { paused: false };
  }

  get paused(): boolean {
    return this.state.paused;
  }

  shards(planned: number): number {
    return this.state.shardsInFlight ?? planned;
  }

  batches(planned: number): number {
    return this.state.batchesInFlight ?? planned;
  }

  /** What a batch carries; empty when nothing was set (so batches of an unchanged run look as before). */
  batchInput(): { control?: BatchControl } {
    const c: BatchControl = {};
    if (this.state.budget) c.budget = this.state.budget;
    if (this.state.rate) c.rate = this.state.rate;
    return Object.keys(c).length ? { control: c } : {};
  }

  /** Resolves once the run is not paused (no await at all when it is not). */
  async whilePaused(): Promise<void> {
    if (this.state.paused) await condition(() => !this.state.paused);
  }

  /** The experiment workflow: updates from clients, forwarded to running shards. */
  installParent(): void {
    const positive = (v: number | undefined, what: string) => {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw ApplicationFailure.nonRetryable(`${what} must be a positive integer, got ${v}`, 'InvalidInput');
    };
    setHandler(controlQuery, () => this.state);
    setHandler(pauseUpdate, (arg) => this.change({ paused: true, pausedBy: 'user', reason: arg?.reason ?? 'paused by the user' }));
    setHandler(resumeUpdate, (arg) => this.change({ paused: false, pausedBy: undefined, reason: undefined, ...(arg?.budget ? { budget: { ...this.state.budget, ...arg.budget } } : {}) }), {
      validator: (arg) => {
        for (const [k, v] of Object.entries(arg?.budget ?? {})) if (!(typeof v === 'number' && v > 0)) throw ApplicationFailure.nonRetryable(`budget.${k} must be a positive number, got ${String(v)}`, 'InvalidInput');
      },
    });
    setHandler(setConcurrencyUpdate, (arg) => this.change({ ...(arg.shards ? { shardsInFlight: arg.shards } : {}), ...(arg.batches ? { batchesInFlight: arg.batches } : {}) }), {
      validator: (arg) => {
        positive(arg.shards, 'shards');
        positive(arg.batches, 'batches');
        if (arg.shards === undefined && arg.batches === undefined) throw ApplicationFailure.nonRetryable('give shards and/or batches', 'InvalidInput');
      },
    });
    setHandler(setRateUpdate, (arg) => this.change({ rate: { ...this.state.rate, ...(arg.rpm ? { rpm: arg.rpm } : {}), ...(arg.tpm ? { tpm: arg.tpm } : {}), version: (this.state.rate?.version ?? 0) + 1 } }), {
      validator: (arg) => {
        positive(arg.rpm, 'rpm');
        positive(arg.tpm, 'tpm');
        if (arg.rpm === undefined && arg.tpm === undefined) throw ApplicationFailure.nonRetryable('give rpm and/or tpm', 'InvalidInput');
      },
    });
  }

  /** A shard: the parent's state, as signalled. */
  installShard(): void {
    setHandler(controlSignal, (s) => {
      this.state = s;
      this.onChange();
    });
  }

  /** The parent tracks its running shards to forward changes to them. */
  started(childId: string): void {
    this.children.add(childId);
  }

  finished(childId: string): void {
    this.children.delete(childId);
  }

  /** A shard stopped by a used budget or quota: pause the run and run that shard again on resume. */
  pauseFor(type: PauseType, reason: string, shard: number): void {
    const retry = [...(this.state.retryShards ?? []), shard].sort((a, b) => a - b);
    this.change({ paused: true, pausedBy: type, reason, retryShards: retry });
  }

  /** The next shard to run again after a pause, if any. */
  takeRetry(): number | undefined {
    const [first, ...rest] = this.state.retryShards ?? [];
    if (first === undefined) return undefined;
    this.state = { ...this.state, retryShards: rest };
    return first;
  }

  get hasRetries(): boolean {
    return (this.state.retryShards?.length ?? 0) > 0;
  }

  private change(patch: Partial<ControlState>): ControlState {
    const next = { ...this.state, ...patch };
    for (const k of Object.keys(next) as (keyof ControlState)[]) if (next[k] === undefined) delete next[k];
    this.state = next;
    // Shards need pause, batches in flight, budget and rate; the retry list is the parent's.
    const { retryShards: _r, ...forShards } = next;
    for (const id of this.children) void getExternalWorkflowHandle(id).signal(controlSignal, forShards).catch(() => undefined);
    this.onChange();
    return next;
  }
}

/** The pause type of a failure (a child's or an activity's, nested), if it is one that pauses the run. */
export function pauseTypeOf(err: unknown): PauseType | undefined {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (typeof e.type === 'string' && (PAUSE_TYPES as readonly string[]).includes(e.type)) return e.type as PauseType;
  }
  return undefined;
}
