/**
 * Usage in metrics.json: what the run's requests cost, per persona, as the API server reported it (counted by the
 * request gates, control/gate.ts). Local models send no requests through a gate, so their metrics carry no usage
 * block at all (tokens they computed are not billed, and counting them is left to the report).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readUsage } from '../control/gate.js';
import type { Usage } from '../control/budget.js';
import type { ResultStore } from '../store/types.js';
import type { ExperimentSpec } from '../experiment/load.js';

export interface UsageJson {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export function usageJson(u: Usage): UsageJson {
  return { requests: u.requests, prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, cost_usd: Number(u.costUsd.toFixed(6)) };
}

/** Add `usage: {total, personas}` to the run's metrics.json (if both exist). */
export async function writeUsage(store: ResultStore, spec: ExperimentSpec, files: Record<string, string>): Promise<void> {
  const file = files.metricsJson;
  if (!file || spec.model.backend !== 'openai') return;
  const usage = await readUsage(store, spec.run);
  if (!usage) return;
  const metrics = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const personas: Record<string, UsageJson> = {};
  for (const p of Object.keys(usage.personas).sort()) personas[p] = usageJson(usage.personas[p] as Usage);
  metrics.usage = { total: usageJson(usage), personas };
  writeFileSync(file, `${JSON.stringify(metrics, null, 2)}\n`);
}
