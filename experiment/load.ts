/**
 * Config loading: YAML file → overrides → zod validation → resolved ExperimentSpec (persona sets and templates
 * read from data files, paths made absolute, secrets left out). Every error is an InputError naming file, field, fix.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { Budget } from '../control/budget.js';
import { z } from 'zod';
import { InputError } from './errors.js';
import { applyOverrides, isPlainObject } from './overrides.js';
import { type CommonConfigParsed, type ModelSpec, ModelChoice, PersonaSetRef } from './schema.js';
import { experimentConfigSchema, registeredTaskNames, rolesOf, taskNamed } from './tasks.js';
import { backendNamed, registeredBackendNames, type Capability } from '../backends/catalog.js';
import type { ChatSpec, PromptFormat } from '../prompts/formats.js';
import { cachedModelDir, isHubId, type OnnxVariant } from '../backends/onnx/folder.js';

/** The configs/ folder shipped with the package (persona sets, templates, example experiments). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const BUILTIN_CONFIGS = join(PACKAGE_ROOT, 'configs');

/** The folder with package.json above this module (the same from src via vitest and from dist/). */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'configs'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '..');
  }
}

/** What every task's resolved spec has: the engine needs nothing else. */
export interface CommonSpec {
  /** The registered task's name (config `task`). */
  task: string;
  run: string;
  /** Hash of everything that changes results (not execution or output settings). */
  specHash: string;
  personas: string[];
  format: PromptFormat;
  /** Set with format chat_template: the system message per persona. */
  chat?: ChatSpec;
  /** The model of the task's primary role. */
  model: ModelSpec;
  /** Tasks with several model roles: every role's model (the primary's is `model`). Absent: one role. */
  models?: Record<string, ModelSpec>;
  /** `budget:` of the config (run control, issue 11): not in specHash, so a resume may raise it. */
  budget?: Budget;
  /** Set when the model in use is a fallback candidate with a warning (e.g. random weights): shown loudly. */
  modelWarning?: string;
  execution: {
    /** Questions (MMLU) or games (bandit) per batch activity; each batch covers them for all personas. */
    unitsPerBatch: number;
    batchesPerShard: number;
    shardsInFlight: number;
    batchesInFlight: number;
    heartbeatTimeoutMs: number;
    taskQueue: string;
  };
  outDir: string;
}

/**
 * A resolved spec as the engine sees it: the common part plus whatever the task resolved (its own spec type, e.g.
 * MmluSpec in tasks/mmlu/config.ts, narrows this). JSON only: it is stored with the run.
 */
export type ExperimentSpec = CommonSpec;

/** How reports, search attributes and the web UI name a run's model. */
export function modelLabel(spec: Pick<CommonSpec, 'model' | 'models'>): string {
  if (spec.models) return Object.entries(spec.models).map(([role, m]) => `${role}=${labelOf(m)}`).join(' ');
  return labelOf(spec.model);
}

function labelOf(model: ModelSpec): string {
  return backendNamed(model.backend).label(model);
}

/** The model of each role of a spec (one role: the task's primary, whatever its name, as `model`). */
export function modelsOf(spec: Pick<CommonSpec, 'model' | 'models'>, primary: string): Record<string, ModelSpec> {
  return spec.models ?? { [primary]: spec.model };
}

export const DEFAULT_TASK_QUEUE = 'rolyplay';
export const LOCAL_LLM_TASK_QUEUE = 'rolyplay-llm-local';

export function readConfigFile(file: string): unknown {
  if (!existsSync(file)) {
    throw new InputError('config', `file ${file} does not exist`, 'pass the path of a YAML file, e.g. configs/mmlu-demo.yaml', file);
  }
  try {
    return parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as YAMLParseError;
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new InputError('(yaml)', `malformed YAML${where}: ${e.message.split('\n')[0]}`, 'fix the YAML syntax', file);
  }
}

export interface LoadOptions {
  /** Hub ids that could not be downloaded (resolveConfigOnline): their candidates are skipped. */
  hubFailures?: Map<string, string>;
  /** Task downloads (PendingDownload.key) already tried, with the reason they failed ('' : they succeeded). */
  downloadFailures?: Map<string, string>;
  /** Where the raw config came from, for messages and for resolving relative paths. */
  file?: string;
  baseDir?: string;
  configsDir?: string;
}

/** Validate a raw config (parsed YAML or workflow JSON input) and resolve it into a spec (no network). */
export function resolveConfig(raw: unknown, overrides: string[] = [], opts: LoadOptions = {}): ExperimentSpec {
  const { spec, downloads } = resolveDetailed(raw, overrides, opts);
  const offline = downloads.find((d) => d.offline);
  if (offline?.offline) throw offline.offline;
  return spec;
}

/** A spec and what `resolveConfigOnline` should download before resolving again. */
interface Resolved {
  spec: ExperimentSpec;
  pending?: ModelPick['pending'];
  /** Downloads the task asked for (ResolveContext.needDownload), in order. */
  downloads: PendingDownload[];
}

/** A download a task's config needs before it resolves (e.g. MMLU's data tarball). */
export interface PendingDownload {
  key: string;
  download: () => Promise<unknown>;
  /** The error `resolveConfig` (no network) throws while the download is pending; none: resolve without it. */
  offline?: InputError;
}

function resolveDetailed(raw: unknown, overrides: string[], opts: LoadOptions): Resolved {
  const withOverrides = applyOverrides(raw, overrides);
  // reportInput: zod 4 leaves `issue.input` out by default, and zodToInputError needs it to tell missing from wrong.
  const parsed = experimentConfigSchema().safeParse(withOverrides, { reportInput: true });
  if (!parsed.success) throw zodToInputError(parsed.error, opts.file);
  return resolveParsed(parsed.data as CommonConfigParsed, opts);
}

/**
 * `resolveConfig`, but a hub candidate ranked before the one that would run is downloaded first (progress bar,
 * cache); one that cannot be (offline, HF_HUB_OFFLINE=1) is skipped with the reason in the model warning.
 */
export async function resolveConfigOnline(raw: unknown, overrides: string[] = [], opts: LoadOptions = {}): Promise<ExperimentSpec> {
  const hubFailures = new Map(opts.hubFailures);
  const tried = new Set<string>();
  const downloadFailures = new Map(opts.downloadFailures);
  for (;;) {
    const { spec, pending, downloads } = resolveDetailed(raw, overrides, { ...opts, hubFailures, downloadFailures });
    const download = downloads[0];
    if (download) {
      await download.download().catch((e: Error) => downloadFailures.set(download.key, e.message.replace(/\.$/, '')));
      // Asked again after a download that worked: say so rather than download for ever.
      if (!downloadFailures.has(download.key)) downloadFailures.set(download.key, 'the download left no usable files');
      continue;
    }
    if (!pending) return spec;
    if (process.env.HF_HUB_OFFLINE === '1') {
      hubFailures.set(pending.id, 'HF_HUB_OFFLINE=1');
      continue;
    }
    if (tried.has(pending.id)) {
      hubFailures.set(pending.id, 'the download left an incomplete folder');
      continue;
    }
    tried.add(pending.id);
    try {
      const hub = backendNamed(pending.model.backend).hub;
      if (hub) await hub.download(pending.model);
      else await (await import('../backends/onnx/folder.js')).resolveModelDir(pending.id, pending.variant);
    } catch (e) {
      hubFailures.set(pending.id, (e as Error).message.split(' (')[0] ?? 'failed');
    }
  }
}

/**
 * The config as it runs: overrides applied and every default filled in. `rolyplay run` sends this as the workflow's
 * input, so the web UI's Input shows what the run uses (defaults included), not just what the file said; resolving it
 * again gives the same spec (and spec hash) as the raw config with its overrides.
 */
export function effectiveConfig(raw: unknown, overrides: string[] = []): unknown {
  const parsed = experimentConfigSchema().safeParse(applyOverrides(raw, overrides));
  // An invalid config was already refused with a clear error by the local load; send it as given.
  return parsed.success ? parsed.data : applyOverrides(raw, overrides);
}

/** The loud form of a spec's model warning, for consoles and logs. */
export function modelWarningBanner(spec: CommonSpec): string | undefined {
  if (!spec.modelWarning) return undefined;
  const line = '!'.repeat(78);
  return `${line}\n!! WARNING: model ${modelLabel(spec)}: ${spec.modelWarning}\n${line}`;
}

export function loadExperiment(file: string, overrides: string[] = [], configsDir = BUILTIN_CONFIGS): ExperimentSpec {
  return resolveConfig(readConfigFile(file), overrides, { file, baseDir: dirname(resolve(file)), configsDir });
}

/** `loadExperiment` with hub candidates downloaded when online (see resolveConfigOnline). */
export function loadExperimentOnline(file: string, overrides: string[] = [], configsDir = BUILTIN_CONFIGS): Promise<ExperimentSpec> {
  return resolveConfigOnline(readConfigFile(file), overrides, { file, baseDir: dirname(resolve(file)), configsDir });
}

/** The first zod issue as an InputError naming the field and a fix. */
export function zodToInputError(error: z.ZodError, file?: string): InputError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.length ? issue.path.join('.') : '(top level)';
  let fix = 'see the config reference in README.md';
  if (issue.code === 'unrecognized_keys') fix = `remove or rename ${issue.keys.join(', ')}`;
  else if (issue.code === 'invalid_value' && 'values' in issue) fix = `use one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (issue.code === 'invalid_union' && issue.input === undefined) fix = `add ${field}`;
  else if (field === 'task') fix = `use one of ${registeredTaskNames().map((n) => JSON.stringify(n)).join(', ')}`;
  else if (issue.code === 'invalid_union' && field === 'model') fix = 'set model.backend to "openai" or "onnx", give {candidates: [...]}, or name a file in configs/models';
  else if (issue.code === 'invalid_type' && issue.input === undefined) fix = `add ${field}`;
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  return new InputError(field, issue.message + more, fix, file);
}

/**
 * What a task's `resolve` gets besides its parsed config: where the config came from, and the shared parts of the
 * resolution (persona sets, model choice, chat, execution, output, run name, spec hash) as helpers.
 */
export interface ResolveContext {
  baseDir: string;
  configsDir: string;
  file?: string;
  /** A path from the config, absolute (relative ones resolve against the config's folder). */
  abs(p: string): string;
  /** Persona names of a list of persona set refs (`field`: the config key, for messages). */
  personaSets(refs: z.output<typeof PersonaSetRef>[], field: string): string[];
  /**
   * The common spec: personas, model, format and chat, execution, output and run name, and the spec hash of
   * everything that changes results (`results`: the task's part, hashed with the common one).
   */
  common(cfg: CommonConfigParsed, results: Record<string, unknown>, opts: CommonOptions): CommonSpec;
  /**
   * The config needs a download before it resolves (e.g. a data set not in the cache): `resolveConfigOnline` runs
   * it and resolves again; `resolveConfig` (no network) throws `offline`. Call it at most once per key.
   */
  needDownload(d: PendingDownload): void;
  /** Why an earlier attempt of download `key` failed (undefined: not tried yet). */
  downloadFailure(key: string): string | undefined;
}

export interface CommonOptions {
  /** Units (questions, games, ...) per batch activity. */
  unitsPerBatch: number;
  /** With format chat_template and no `chat.system`: the system message per persona (null: none). */
  defaultSystem: string | null;
}

interface ResolveState {
  /** The task's model roles (the first is the primary one). */
  roles: Record<string, readonly Capability[]>;
  hubFailures?: Map<string, string>;
  pending?: ModelPick['pending'];
  downloads: PendingDownload[];
  baseDir: string;
  configsDir: string;
  file?: string;
  abs(p: string): string;
}

function resolveParsed(cfg: CommonConfigParsed, opts: LoadOptions): Resolved {
  const baseDir = opts.baseDir ?? process.cwd();
  const task = taskNamed(cfg.task);
  const state: ResolveState = {
    roles: rolesOf(task),
    hubFailures: opts.hubFailures,
    downloads: [],
    baseDir,
    configsDir: opts.configsDir ?? BUILTIN_CONFIGS,
    file: opts.file,
    abs: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
  };
  const ctx: ResolveContext = {
    baseDir,
    configsDir: state.configsDir,
    file: opts.file,
    abs: state.abs,
    personaSets: (refs, field) => unique(refs.flatMap((ref, i) => loadPersonaSet(ref, `${field}.${i}`, state.configsDir, baseDir, opts.file))),
    common: (c, results, o) => resolveCommon(c, state, results, o),
    needDownload: (d) => state.downloads.push(d),
    downloadFailure: (key) => opts.downloadFailures?.get(key),
  };
  const spec = task.resolve(cfg, ctx);
  return { spec, downloads: state.downloads, ...(state.pending ? { pending: state.pending } : {}) };
}

/** The parts every task resolves the same way: persona sets, model paths, run name, execution, output folder. */
function resolveCommon(cfg: CommonConfigParsed, ctx: ResolveState, results: Record<string, unknown>, opts: CommonOptions): CommonSpec {
  const personas = unique(cfg.personas.flatMap((ref, i) => loadPersonaSet(ref, `personas.${i}`, ctx.configsDir, ctx.baseDir, ctx.file)));
  const roles = Object.keys(ctx.roles);
  const picks = Object.fromEntries(Object.entries(roleChoices(cfg, ctx)).map(([role, { choice, field }]) => {
    const pick = resolveModel(choice, ctx, field);
    ctx.pending ??= pick.pending;
    checkCapabilities(role, field, pick.model, ctx);
    return [role, pick];
  })) as Record<string, ModelPick>;
  const picked = picks[roles[0] as string] as ModelPick;
  const { model } = picked;
  // Several roles: the spec (and the hash) carry every role's model; one role keeps the shape (and hash) of before.
  const models = roles.length > 1 ? Object.fromEntries(roles.map((r) => [r, (picks[r] as ModelPick).model])) : undefined;
  const warning = roles.map((r) => (picks[r]?.warning ? `${roles.length > 1 ? `${r}: ` : ''}${picks[r]!.warning}` : '')).filter(Boolean).join(' — ');
  const format = picked.format ?? cfg.format;
  const chat = resolveChat(cfg, format, picked.format !== undefined, opts.defaultSystem, ctx.file);
  const specHash = hashOf({ task: cfg.task, personas, format, chat, model, ...(models ? { models } : {}), ...results });
  const run = cfg.name ?? `${cfg.task}-${specHash.slice(0, 10)}`;
  const local = Object.values(models ?? { model }).some((m) => backendNamed(m.backend).local);
  return {
    task: cfg.task,
    run,
    specHash,
    personas,
    format,
    ...(chat ? { chat } : {}),
    model,
    ...(models ? { models } : {}),
    ...(warning ? { modelWarning: warning } : {}),
    ...(cfg.budget ? { budget: cfg.budget } : {}),
    execution: {
      unitsPerBatch: opts.unitsPerBatch,
      batchesPerShard: cfg.execution.batches_per_shard,
      shardsInFlight: cfg.execution.shards_in_flight,
      batchesInFlight: cfg.execution.batches_in_flight,
      heartbeatTimeoutMs: Math.round(cfg.execution.heartbeat_s * 1000),
      taskQueue: cfg.execution.task_queue ?? (local ? LOCAL_LLM_TASK_QUEUE : DEFAULT_TASK_QUEUE),
    },
    outDir: join(ctx.abs(cfg.output.dir), run),
  };
}

/** Each role's model choice and the config key it came from: `model` is the primary role's, `models.<role>` any. */
function roleChoices(cfg: CommonConfigParsed, ctx: ResolveState): Record<string, { choice: z.output<typeof ModelChoice>; field: string }> {
  const roles = Object.keys(ctx.roles);
  const primary = roles[0] as string;
  const out: Record<string, { choice: z.output<typeof ModelChoice>; field: string }> = {};
  for (const [role, choice] of Object.entries(cfg.models ?? {})) {
    if (!roles.includes(role)) {
      throw new InputError(`models.${role}`, `task ${cfg.task} has no model role "${role}"`, `use ${roles.map((r) => `models.${r}`).join(', ')}${roles.length === 1 ? ' (or model)' : ''}`, ctx.file);
    }
    out[role] = { choice, field: `models.${role}` };
  }
  if (cfg.model !== undefined) {
    if (out[primary]) throw new InputError('model', `both model and models.${primary} are set`, `keep one of them (model means models.${primary} for task ${cfg.task})`, ctx.file);
    out[primary] = { choice: cfg.model, field: 'model' };
  }
  for (const role of roles) {
    if (out[role]) continue;
    if (roles.length === 1) throw new InputError('model', 'is missing', 'add model', ctx.file);
    throw new InputError(`models.${role}`, `task ${cfg.task} needs a model for role ${role} (${ctx.roles[role]!.join(' & ')})`, `add models.${role}: {backend: ..., ...} (roles: ${roles.join(', ')})`, ctx.file);
  }
  return out;
}

/** A role's model must have the capabilities the task declared for it. */
function checkCapabilities(role: string, field: string, model: ModelSpec, ctx: ResolveState): void {
  const offers = backendNamed(model.backend).capabilities;
  const missing = (ctx.roles[role] ?? []).filter((c) => !offers.includes(c));
  if (missing.length === 0) return;
  const fit = registeredBackendNames().filter((n) => missing.every((c) => backendNamed(n).capabilities.includes(c)));
  throw new InputError(
    field,
    `backend ${model.backend} cannot be the ${role} model: the task needs ${missing.join(' & ')}, it offers ${offers.join(' & ') || 'nothing'}`,
    fit.length ? `use a backend with ${missing.join(' & ')} for ${field}: ${fit.join(', ')}` : `no registered backend offers ${missing.join(' & ')}: register one under backends/<name>/`,
    ctx.file,
  );
}

/** `fromModel`: the format was set by the model candidate in use, so a `chat:` meant for chat_template is moot. */
function resolveChat(cfg: CommonConfigParsed, format: PromptFormat, fromModel: boolean, defaultSystem: string | null, file?: string): ChatSpec | undefined {
  if (format !== 'chat_template') {
    if (cfg.chat && !fromModel) throw new InputError('chat', `chat applies to format chat_template only (format is ${format})`, 'remove chat, or set format: chat_template', file);
    return undefined;
  }
  const system = cfg.chat?.system;
  if (system === undefined) return { system: defaultSystem };
  if (system === 'none') return { system: null };
  const unknown = [...system.matchAll(/\{(\w*)\}/g)].map((m) => m[1]).filter((n) => n !== 'persona');
  if (unknown.length) {
    throw new InputError('chat.system', `unknown placeholder(s) ${unknown.map((n) => `{${n}}`).join(', ')}`, 'use {persona} for the persona, e.g. "You are a {persona}."', file);
  }
  return { system };
}

interface ModelPick {
  model: ModelSpec;
  format?: PromptFormat;
  warning?: string;
  /** A hub candidate ranked before the one picked that is not in the cache: `resolveConfigOnline` downloads it. */
  pending?: { id: string; variant: OnnxVariant; model: ModelSpec };
}

/**
 * The model that runs: the one given, or the first usable candidate (a local folder that exists, a hub id in the
 * cache, an API model). Hub candidates not yet downloaded are skipped here (no network in config loading) and
 * reported as `pending`; those in `ctx.hubFailures` could not be downloaded and are skipped with the reason.
 */
function resolveModel(choice: z.output<typeof ModelChoice>, ctx: ResolveState, field = 'model'): ModelPick {
  let abs = ctx.abs;
  let where = ctx.file;
  if (typeof choice === 'string') {
    const path = findDataFile(choice, 'models', ctx.configsDir, ctx.baseDir);
    if (!path) {
      throw new InputError('model', `unknown model "${choice}"`, `use a file name from ${join(ctx.configsDir, 'models')} (${listYaml(join(ctx.configsDir, 'models'))}), a path to such a YAML file, or a block {backend: onnx, path: ...}`, ctx.file);
    }
    const parsed = ModelChoice.safeParse(readConfigFile(path), { reportInput: true });
    if (!parsed.success) throw zodToInputError(parsed.error, path);
    if (typeof parsed.data === 'string') throw new InputError('(model file)', 'a model file must hold a model block or {candidates: [...]}, not another name', 'write the model block into the file', path);
    choice = parsed.data;
    where = path;
    abs = (p: string) => (isAbsolute(p) ? p : resolve(dirname(path), p));
  }
  // Any local backend's `path` (onnx, clip): a folder relative to the config, unless it is a hub id.
  const localPath = (m: ModelSpec): ModelSpec => (backendNamed(m.backend).local && 'path' in m && !isHubId(m.path) ? { ...m, path: abs(m.path) } : m);
  if (!('candidates' in choice)) return { model: localPath(choice) };
  const skipped: string[] = [];
  let pending: ModelPick['pending'];
  let pendingExtras: { format?: PromptFormat; warning?: string; skippedBefore: number } | undefined;
  for (const { warning, format, ...candidate } of choice.candidates) {
    const model = localPath(candidate);
    const pick = (): ModelPick => ({
      model,
      ...(format ? { format } : {}),
      ...(warning || skipped.length ? { warning: [warning, skipped.length ? `not used: ${skipped.join('; ')}` : ''].filter(Boolean).join(' — ') } : {}),
      ...(pending ? { pending } : {}),
    });
    const def = backendNamed(model.backend);
    if (!def.local || !('path' in model)) return pick();
    if (!isHubId(model.path)) {
      if (existsSync(model.path)) return pick();
      skipped.push(`${model.path} does not exist`);
    } else if (def.hub ? def.hub.cached(model) : cachedModelDir(model.path, model.variant)) {
      return pick();
    } else {
      const failure = ctx.hubFailures?.get(model.path);
      skipped.push(`${model.path} ${failure ? `could not be downloaded (${failure})` : 'is not downloaded'}`);
      if (!failure && !pending) {
        pending = { id: model.path, variant: model.variant as OnnxVariant, model };
        pendingExtras = { format, warning, skippedBefore: skipped.length - 1 };
      }
    }
  }
  // Every candidate before it unusable: the hub candidate not yet tried runs once `resolveConfigOnline` has it.
  if (pending && pendingExtras) {
    const before = skipped.slice(0, pendingExtras.skippedBefore);
    const warning = [pendingExtras.warning, before.length ? `not used: ${before.join('; ')}` : ''].filter(Boolean).join(' — ');
    return { model: pending.model, pending, ...(pendingExtras.format ? { format: pendingExtras.format } : {}), ...(warning ? { warning } : {}) };
  }
  // The repository's generated test fixtures live in .cache/fixtures: say which script makes them.
  const fixture = skipped.some((s) => s.includes('/.cache/fixtures/')) ? ' (the .cache/fixtures folders are generated by `bash scripts/make-fixtures.sh`)' : '';
  throw new InputError(`${field}.candidates`, `no model candidate is usable: ${skipped.join('; ')}`, `add a local model folder that exists as a candidate${fixture}, or go online once so that a hub candidate is downloaded`, where);
}

function loadPersonaSet(ref: z.output<typeof PersonaSetRef>, field: string, configsDir: string, baseDir: string, file?: string): string[] {
  if (typeof ref !== 'string') return ref.personas;
  const path = findDataFile(ref, 'personas', configsDir, baseDir);
  if (!path) {
    throw new InputError(field, `unknown persona set "${ref}"`, `use a file name from ${join(configsDir, 'personas')} (${listYaml(join(configsDir, 'personas'))}), a path to a YAML file, or an inline {name, personas: [...]}`, file);
  }
  const data = readConfigFile(path);
  const parsed = z.object({ name: z.string().optional(), personas: z.array(z.string().min(1)).min(1) }).safeParse(data);
  if (!parsed.success) throw new InputError('personas', 'a persona set file needs a non-empty list `personas` of strings', 'fix the file', path);
  return parsed.data.personas;
}

/** A data file by name (configs/<kind>/<ref>.yaml, also beside the config) or by path; undefined: none. */
export function findDataFile(ref: string, kind: string, configsDir: string, baseDir: string): string | undefined {
  const candidates = ref.endsWith('.yaml') || ref.endsWith('.yml') ? [resolve(baseDir, ref), resolve(ref)] : [join(configsDir, kind, `${ref}.yaml`), join(baseDir, kind, `${ref}.yaml`)];
  return candidates.find((c) => existsSync(c));
}

/** The names of the YAML files in `dir`, for messages. */
export function listYaml(dir: string): string {
  if (!existsSync(dir)) return 'none found';
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort().join(', ');
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Stable hash of a JSON value (object keys sorted). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
