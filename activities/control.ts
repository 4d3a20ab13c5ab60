/**
 * Run control inside a worker process: the gates of the fleet-wide rate limit and budgets (control/gate.ts), one per
 * (API key + model, run), shared by every batch of the run that this process runs. Batches carry the workflow's
 * current budget and rate (a resume or a throttle reaches every worker with its next batch; the rate is written to
 * the shared bucket row, so a worker still in an older batch follows it at its next lease).
 */
import { join } from 'node:path';
import { bucketKey, readUsage, RequestGate } from '../control/gate.js';
import { priceFor, type Budget, type Price, type RunUsage } from '../control/budget.js';
import { OpenAIBackend } from '../backends/openai/backend.js';
import type { Backend } from '../backends/types.js';
import type { ResultStore } from '../store/types.js';
import type { ExperimentSpec } from '../experiment/load.js';

/** What a batch carries from the workflow's control state (no secrets). */
export interface BatchControl {
  budget?: Budget;
  /** Set by `setRate`; `version` orders them (the newest wins in the shared bucket). */
  rate?: { rpm?: number; tpm?: number; version: number };
}

export class RunControls {
  private readonly gates = new Map<string, RequestGate>();
  private readonly prices = new Map<string, Price | undefined>();
  constructor(private readonly configsDir: string) {}

  get pricesFile(): string {
    return join(this.configsDir, 'prices.yaml');
  }

  /** The model's price; with a usd budget and no price, an InputError naming the file and the fix. */
  price(spec: ExperimentSpec, budget: Budget | undefined): Price | undefined {
    if (spec.model.backend !== 'openai') return undefined;
    const k = `${spec.model.model}\u0000${budget?.usd !== undefined}`;
    if (!this.prices.has(k)) this.prices.set(k, priceFor(this.pricesFile, spec.model.model, budget));
    return this.prices.get(k);
  }

  /** `backend` with its requests gated, or as is for backends that compute locally (no rate, no cost). */
  gated(backend: Backend, spec: ExperimentSpec, store: ResultStore, ctl: BatchControl | undefined): { backend: Backend; gate?: RequestGate } {
    if (!(backend instanceof OpenAIBackend) || spec.model.backend !== 'openai') return { backend };
    const id = backend.rateIdentity;
    const bucket = bucketKey(id.baseURL, id.apiKey, id.model);
    const budget = ctl?.budget ?? spec.budget;
    const limits = { rpm: spec.model.rpm, ...(spec.model.tpm !== undefined ? { tpm: spec.model.tpm } : {}) };
    const key = `${store.label}\u0000${bucket}\u0000${spec.run}`;
    let gate = this.gates.get(key);
    const price = this.price(spec, budget);
    if (!gate) {
      gate = new RequestGate({ store, bucket, run: spec.run, limits, ...(budget ? { budget } : {}), ...(price ? { price } : {}), ...(ctl?.rate ? { override: ctl.rate } : {}) });
      this.gates.set(key, gate);
    } else {
      gate.update({ budget, limits, price, ...(ctl?.rate ? { override: ctl.rate } : {}) });
    }
    return { backend: backend.withGate(gate), gate };
  }
}

export async function runUsage(store: ResultStore, run: string): Promise<RunUsage | undefined> {
  return readUsage(store, run);
}
