/**
 * A run's provenance, written to `provenance.json` in its folder at every reduce: the effective config (after
 * overrides, as resolved and stored at planning), the versions of the tool, Node and the packages that shape the
 * numbers, the model's identity and file hashes, the git commit of the code, and when the run started and ended.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT, modelLabel, type ExperimentSpec } from '../experiment/load.js';
import { writeFileAtomic } from '../tasks/mmlu/report.js';
import type { RunTimes } from '../store/types.js';

export interface FileHash {
  /** Relative to the model folder. */
  file: string;
  bytes: number;
  mtime_ms: number;
  sha256: string;
}

export interface ModelProvenance {
  label: string;
  backend: string;
  /** onnx: the model folder (absolute) or hub id; openai: the model name and server. */
  source: string;
  variant?: string;
  /** The folder's weights are random (a test model): its accuracies are noise. */
  random_weights: boolean;
  /** From config.json: architecture, type, size, and `_name_or_path`/`transformers_version` when present. */
  config?: Record<string, unknown>;
  files: FileHash[];
}

export interface Provenance {
  run: string;
  task: string;
  tool: { name: string; version: string; node: string; platform: string };
  packages: Record<string, string | null>;
  git: { commit: string; dirty: boolean } | null;
  model: ModelProvenance;
  times: { started: string | null; finished: string | null; duration_s: number | null; reduced: string };
  effective_config: unknown;
}

/** Packages whose version can change a run's numbers or its execution. */
const PACKAGES = ['onnxruntime-node', '@huggingface/transformers', '@temporalio/worker', '@temporalio/client', 'openai', 'vega', 'vega-lite', '@stdlib/stats-base-dists-t-quantile'];

function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export function toolVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function gitState(): Provenance['git'] {
  try {
    const run = (args: string[]) => execFileSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit: run(['rev-parse', 'HEAD']).trim(), dirty: run(['status', '--porcelain', '--untracked-files=no']).trim() !== '' };
  } catch {
    return null; // not a checkout (an installed package) or no git
  }
}

/** A test model with random weights: the repository's tiny-random-llama, or any hub "tiny-random-*" model. */
export function hasRandomWeights(spec: Pick<ExperimentSpec, 'model'>): boolean {
  return spec.model.backend === 'onnx' && /(^|[/_-])tiny-random/i.test(spec.model.path);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hashes of the model folder's files (config, tokenizer, the onnx files); unchanged files keep their old hash. */
async function modelFiles(dir: string, previous: readonly FileHash[]): Promise<FileHash[]> {
  const names = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'].filter((f) => existsSync(join(dir, f)));
  if (existsSync(join(dir, 'onnx'))) names.push(...readdirSync(join(dir, 'onnx')).sort().map((f) => `onnx/${f}`));
  const out: FileHash[] = [];
  for (const file of names) {
    const st = statSync(join(dir, file));
    const old = previous.find((p) => p.file === file && p.bytes === st.size && p.mtime_ms === st.mtimeMs);
    out.push(old ?? { file, bytes: st.size, mtime_ms: st.mtimeMs, sha256: await sha256File(join(dir, file)) });
  }
  return out;
}

function modelConfig(dir: string): Record<string, unknown> | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const keys = ['_name_or_path', 'architectures', 'model_type', 'transformers_version', 'hidden_size', 'num_hidden_layers', 'vocab_size', 'torch_dtype'];
    return Object.fromEntries(keys.filter((k) => k in c).map((k) => [k, c[k]]));
  } catch {
    return undefined;
  }
}


export async function collectProvenance(spec: ExperimentSpec, times: RunTimes, previous?: Provenance): Promise<Provenance> {
  const m = spec.model;
  const model: ModelProvenance =
    m.backend === 'onnx'
      ? {
          label: modelLabel(spec),
          backend: 'onnx',
          source: m.path,
          variant: m.variant,
          random_weights: hasRandomWeights(spec),
          ...(existsSync(m.path) ? { config: modelConfig(m.path) } : {}),
          files: existsSync(m.path) ? await modelFiles(m.path, previous?.model.files ?? []) : [],
        }
      : { label: modelLabel(spec), backend: m.backend, source: `${m.model} @ ${m.base_url ?? '$OPENAI_BASE_URL or api.openai.com'}`, random_weights: false, files: [] };
  const started = times.started ? Date.parse(times.started) : NaN;
  const finished = times.finished ? Date.parse(times.finished) : NaN;
  return {
    run: spec.run,
    task: spec.task,
    tool: { name: 'rolyplaying', version: toolVersion(), node: process.version, platform: `${process.platform}-${process.arch}` },
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(p)])),
    git: gitState(),
    model,
    times: {
      ...times,
      duration_s: Number.isFinite(started) && Number.isFinite(finished) ? Math.max(0, (finished - started) / 1000) : null,
      reduced: new Date().toISOString(),
    },
    effective_config: spec,
  };
}

export function readProvenance(outDir: string): Provenance | undefined {
  const file = join(outDir, 'provenance.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Provenance;
  } catch {
    return undefined;
  }
}

export async function writeProvenance(spec: ExperimentSpec, times: RunTimes, outDir: string): Promise<{ file: string; provenance: Provenance }> {
  const provenance = await collectProvenance(spec, times, readProvenance(outDir));
  const file = join(outDir, 'provenance.json');
  writeFileAtomic(file, JSON.stringify(provenance, null, 2) + '\n');
  return { file, provenance };
}
