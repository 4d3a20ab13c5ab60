/**
 * Config loading: YAML file → overrides → zod validation → resolved ExperimentSpec (persona sets and templates
 * read from data files, paths made absolute, secrets left out). Every error is an InputError naming file, field, fix.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InputError } from './errors.js';
import { applyOverrides, isPlainObject } from './overrides.js';
import {
  ExperimentConfig,
  type BanditConfigParsed,
  type ExperimentConfigParsed,
  type MmluConfigParsed,
  type ModelSpec,
  ModelChoice,
  PersonaSetRef,
  TemplateRef,
} from './schema.js';
import { MMLU_SUBJECTS, expertPersonaFor } from '../tasks/mmlu/categories.js';
import { type MmluTemplate, placeholders } from '../tasks/mmlu/prompts.js';
import { MMLU_TARBALL_URL, cachedMmluDir, checkMmluData, downloadMmlu, mmluCacheDir, type MmluSplit } from '../tasks/mmlu/data.js';
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
  run: string;
  /** Hash of everything that changes results (not execution or output settings). */
  specHash: string;
  personas: string[];
  format: PromptFormat;
  /** Set with format chat_template: the system message per persona. */
  chat?: ChatSpec;
  model: ModelSpec;
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

export interface MmluSpec extends CommonSpec {
  task: 'mmlu';
  data: { path: string; split: MmluSplit; subjects: string[]; limit?: number };
  groups: { neutral: string[] };
  template: MmluTemplate;
  scoring: { mode: 'logits' | 'generate' | 'generate_fork'; maxTries: number; maxTokens?: number; temperature?: number; topP?: number; topK?: number; seed?: number };
}

export interface BanditSpec extends CommonSpec {
  task: 'bandit';
  games: number;
  trials: number;
  seed: number | string;
  design: 'faithful' | 'paired';
  scoring: { mode: 'logits' | 'generate'; temperature: number; maxTries: number };
  accLast: 'faithful' | 'intended';
}

export type ExperimentSpec = MmluSpec | BanditSpec;

/** How reports, search attributes and the web UI name a run's model. */
export function modelLabel(spec: CommonSpec): string {
  return spec.model.backend === 'openai' ? `openai:${spec.model.model}` : `onnx:${spec.model.path.split('/').filter(Boolean).pop()}`;
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
  /** The MMLU data download failed for this reason (resolveConfigOnline). */
  dataFailure?: string;
  /** Where the raw config came from, for messages and for resolving relative paths. */
  file?: string;
  baseDir?: string;
  configsDir?: string;
}

/** Validate a raw config (parsed YAML or workflow JSON input) and resolve it into a spec (no network). */
export function resolveConfig(raw: unknown, overrides: string[] = [], opts: LoadOptions = {}): ExperimentSpec {
  const { spec, pendingData } = resolveDetailed(raw, overrides, opts);
  if (pendingData && spec.task === 'mmlu') {
    throw new InputError('data.path', `MMLU data folder ${spec.data.path} does not exist`, `\`rolyplay run\` downloads it when online (cached in ${mmluCacheDir()}); or point data.path at a folder with test/<subject>_test.csv files`, opts.file);
  }
  return spec;
}

/** A spec and what `resolveConfigOnline` should download before resolving again. */
interface Resolved {
  spec: ExperimentSpec;
  pending?: ModelPick['pending'];
  pendingData?: boolean;
}

function resolveDetailed(raw: unknown, overrides: string[], opts: LoadOptions): Resolved {
  const withOverrides = applyOverrides(raw, overrides);
  // reportInput: zod 4 leaves `issue.input` out by default, and zodToInputError needs it to tell missing from wrong.
  const parsed = ExperimentConfig.safeParse(withOverrides, { reportInput: true });
  if (!parsed.success) throw zodToInputError(parsed.error, opts.file);
  return resolveParsed(parsed.data, opts);
}

/**
 * `resolveConfig`, but a hub candidate ranked before the one that would run is downloaded first (progress bar,
 * cache); one that cannot be (offline, HF_HUB_OFFLINE=1) is skipped with the reason in the model warning.
 */
export async function resolveConfigOnline(raw: unknown, overrides: string[] = [], opts: LoadOptions = {}): Promise<ExperimentSpec> {
  const hubFailures = new Map(opts.hubFailures);
  const tried = new Set<string>();
  let dataFailure = opts.dataFailure;
  for (;;) {
    const { spec, pending, pendingData } = resolveDetailed(raw, overrides, { ...opts, hubFailures, dataFailure });
    if (pendingData) {
      await downloadMmlu().catch((e: Error) => (dataFailure = e.message.replace(/\.$/, '')));
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
      const { resolveModelDir } = await import('../backends/onnx/folder.js');
      await resolveModelDir(pending.id, pending.variant);
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
  const parsed = ExperimentConfig.safeParse(applyOverrides(raw, overrides));
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

function zodToInputError(error: z.ZodError, file?: string): InputError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.length ? issue.path.join('.') : '(top level)';
  let fix = 'see the config reference in README.md';
  if (issue.code === 'unrecognized_keys') fix = `remove or rename ${issue.keys.join(', ')}`;
  else if (issue.code === 'invalid_value' && 'values' in issue) fix = `use one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (issue.code === 'invalid_union' && issue.input === undefined) fix = `add ${field}`;
  else if (issue.code === 'invalid_union' && field === 'model') fix = 'set model.backend to "openai" or "onnx", give {candidates: [...]}, or name a file in configs/models';
  else if (issue.code === 'invalid_type' && issue.input === undefined) fix = `add ${field}`;
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  return new InputError(field, issue.message + more, fix, file);
}

interface ResolveContext {
  /** Hub ids that could not be downloaded, with the reason (set by resolveConfigOnline). */
  hubFailures?: Map<string, string>;
  /** Out: the hub candidate to download before the picked one (see ModelPick). */
  pending?: ModelPick['pending'];
  /** Out: the MMLU data folder is absent and not cached: resolveConfigOnline downloads it. */
  pendingData?: boolean;
  /** Why the MMLU download failed (set by resolveConfigOnline). */
  dataFailure?: string;
  baseDir: string;
  configsDir: string;
  file?: string;
  abs(p: string): string;
}

function resolveParsed(cfg: ExperimentConfigParsed, opts: LoadOptions): Resolved {
  const baseDir = opts.baseDir ?? process.cwd();
  const ctx: ResolveContext = {
    hubFailures: opts.hubFailures,
    dataFailure: opts.dataFailure,
    baseDir,
    configsDir: opts.configsDir ?? BUILTIN_CONFIGS,
    file: opts.file,
    abs: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
  };
  const spec = cfg.task === 'mmlu' ? resolveMmlu(cfg, ctx) : resolveBandit(cfg, ctx);
  return { spec, ...(ctx.pending ? { pending: ctx.pending } : {}), ...(ctx.pendingData ? { pendingData: true } : {}) };
}

/** The parts every task resolves the same way: persona sets, model paths, run name, execution, output folder. */
function resolveCommon(
  cfg: ExperimentConfigParsed,
  ctx: ResolveContext,
  results: Record<string, unknown>,
  unitsPerBatch: number,
): CommonSpec & { task: ExperimentConfigParsed['task'] } {
  const personas = unique(cfg.personas.flatMap((ref, i) => loadPersonaSet(ref, `personas.${i}`, ctx.configsDir, ctx.baseDir, ctx.file)));
  const picked = resolveModel(cfg.model, ctx);
  ctx.pending = picked.pending;
  const { model } = picked;
  const format = picked.format ?? cfg.format;
  const chat = resolveChat(cfg, format, picked.format !== undefined, ctx.file);
  const specHash = hashOf({ task: cfg.task, personas, format, chat, model, ...results });
  const run = cfg.name ?? `${cfg.task}-${specHash.slice(0, 10)}`;
  const local = model.backend === 'onnx';
  return {
    task: cfg.task,
    run,
    specHash,
    personas,
    format,
    ...(chat ? { chat } : {}),
    model,
    ...(picked.warning ? { modelWarning: picked.warning } : {}),
    execution: {
      unitsPerBatch,
      batchesPerShard: cfg.execution.batches_per_shard,
      shardsInFlight: cfg.execution.shards_in_flight,
      batchesInFlight: cfg.execution.batches_in_flight,
      heartbeatTimeoutMs: Math.round(cfg.execution.heartbeat_s * 1000),
      taskQueue: cfg.execution.task_queue ?? (local ? LOCAL_LLM_TASK_QUEUE : DEFAULT_TASK_QUEUE),
    },
    outDir: join(ctx.abs(cfg.output.dir), run),
  };
}

/** The fork's system message on Llama-3 for the bandit; MMLU's persona is in the question, so none by default. */
const DEFAULT_CHAT_SYSTEM = { mmlu: null, bandit: 'You are a {persona}.' } as const;

/** `fromModel`: the format was set by the model candidate in use, so a `chat:` meant for chat_template is moot. */
function resolveChat(cfg: ExperimentConfigParsed, format: PromptFormat, fromModel: boolean, file?: string): ChatSpec | undefined {
  if (format !== 'chat_template') {
    if (cfg.chat && !fromModel) throw new InputError('chat', `chat applies to format chat_template only (format is ${format})`, 'remove chat, or set format: chat_template', file);
    return undefined;
  }
  const system = cfg.chat?.system;
  if (system === undefined) return { system: DEFAULT_CHAT_SYSTEM[cfg.task] };
  if (system === 'none') return { system: null };
  const unknown = [...system.matchAll(/\{(\w*)\}/g)].map((m) => m[1]).filter((n) => n !== 'persona');
  if (unknown.length) {
    throw new InputError('chat.system', `unknown placeholder(s) ${unknown.map((n) => `{${n}}`).join(', ')}`, 'use {persona} for the persona, e.g. "You are a {persona}."', file);
  }
  return { system };
}

function resolveBandit(cfg: BanditConfigParsed, ctx: ResolveContext): BanditSpec {
  const results = {
    games: cfg.games,
    trials: cfg.trials,
    seed: cfg.seed,
    design: cfg.design,
    scoring: { mode: cfg.scoring.mode, temperature: cfg.scoring.temperature, maxTries: cfg.scoring.max_tries },
    accLast: cfg.metrics.acc_last,
  };
  return { ...resolveCommon(cfg, ctx, results, cfg.execution.games_per_batch), ...results, task: 'bandit' };
}

function resolveMmlu(cfg: MmluConfigParsed, ctx: ResolveContext): MmluSpec {
  const { configsDir, baseDir, file, abs } = ctx;

  const subjects = cfg.data.subjects === 'all' ? [...MMLU_SUBJECTS] : cfg.data.subjects;
  const unknown = subjects.filter((s) => !(MMLU_SUBJECTS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InputError('data.subjects', `unknown MMLU subject(s) ${unknown.join(', ')}`, `use names like ${MMLU_SUBJECTS.slice(0, 3).join(', ')} (57 in all), or "all"`, file);
  }
  let dataPath = abs(cfg.data.path);
  if (!existsSync(dataPath) && cfg.data.download) {
    const cached = cachedMmluDir();
    if (cached) dataPath = cached;
    else if (ctx.dataFailure === undefined) ctx.pendingData = true;
    else {
      throw new InputError(
        'data.path',
        `MMLU data folder ${dataPath} does not exist and downloading ${process.env.ROLYPLAY_MMLU_URL ?? MMLU_TARBALL_URL} failed (${ctx.dataFailure})`,
        `go online and run again (the download is cached in ${mmluCacheDir()}), or download that tarball elsewhere and extract its data/ folder to ${dataPath}, or point data.path at a folder with test/<subject>_test.csv files`,
        file,
      );
    }
  }
  if (!ctx.pendingData) {
    try {
      checkMmluData(dataPath, subjects, cfg.data.split);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(err.field, err.problem, err.fix, file);
      throw err;
    }
  }

  const neutral = unique(cfg.groups.neutral.flatMap((ref, i) => loadPersonaSet(ref, `groups.neutral.${i}`, configsDir, baseDir, file)));
  const template = loadTemplate(cfg.template, configsDir, baseDir, file);

  const scoring = {
    mode: cfg.scoring.mode,
    maxTries: cfg.scoring.max_tries,
    ...(cfg.scoring.max_tokens !== undefined ? { maxTokens: cfg.scoring.max_tokens } : template.maxTokens !== undefined ? { maxTokens: template.maxTokens } : {}),
    ...(cfg.scoring.temperature !== undefined ? { temperature: cfg.scoring.temperature } : {}),
    ...(cfg.scoring.top_p !== undefined ? { topP: cfg.scoring.top_p } : {}),
    ...(cfg.scoring.top_k !== undefined ? { topK: cfg.scoring.top_k } : {}),
    ...(cfg.scoring.seed !== undefined ? { seed: cfg.scoring.seed } : {}),
  };
  const data = { path: dataPath, split: cfg.data.split, subjects, ...(cfg.data.limit ? { limit: cfg.data.limit } : {}) };
  const results = {
    // The data folder's location does not change results: moving it must not orphan a run.
    data: { ...data, path: undefined },
    groups: { neutral },
    template: { name: template.name, separator: template.separator, text: template.text, ...(template.noPersona ? { noPersona: template.noPersona } : {}) },
    scoring,
  };
  return { ...resolveCommon(cfg, ctx, results, cfg.execution.questions_per_batch), ...results, data, task: 'mmlu' };
}

interface ModelPick {
  model: ModelSpec;
  format?: PromptFormat;
  warning?: string;
  /** A hub candidate ranked before the one picked that is not in the cache: `resolveConfigOnline` downloads it. */
  pending?: { id: string; variant: OnnxVariant };
}

/**
 * The model that runs: the one given, or the first usable candidate (a local folder that exists, a hub id in the
 * cache, an API model). Hub candidates not yet downloaded are skipped here (no network in config loading) and
 * reported as `pending`; those in `ctx.hubFailures` could not be downloaded and are skipped with the reason.
 */
function resolveModel(choice: z.output<typeof ModelChoice>, ctx: ResolveContext): ModelPick {
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
  const localPath = (m: ModelSpec): ModelSpec => (m.backend === 'onnx' && !isHubId(m.path) ? { ...m, path: abs(m.path) } : m);
  if (!('candidates' in choice)) return { model: localPath(choice) };
  const skipped: string[] = [];
  let pending: ModelPick['pending'];
  for (const { warning, format, ...candidate } of choice.candidates) {
    const model = localPath(candidate);
    const pick = (): ModelPick => ({
      model,
      ...(format ? { format } : {}),
      ...(warning || skipped.length ? { warning: [warning, skipped.length ? `not used: ${skipped.join('; ')}` : ''].filter(Boolean).join(' — ') } : {}),
      ...(pending ? { pending } : {}),
    });
    if (model.backend === 'openai') return pick();
    if (!isHubId(model.path)) {
      if (existsSync(model.path)) return pick();
      skipped.push(`${model.path} does not exist`);
    } else if (cachedModelDir(model.path, model.variant)) {
      return pick();
    } else {
      const failure = ctx.hubFailures?.get(model.path);
      skipped.push(`${model.path} ${failure ? `could not be downloaded (${failure})` : 'is not downloaded'}`);
      if (!failure) pending ??= { id: model.path, variant: model.variant };
    }
  }
  throw new InputError('model.candidates', `no model candidate is usable: ${skipped.join('; ')}`, 'add a local model folder that exists as a candidate, or go online once so that a hub candidate is downloaded', where);
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

interface LoadedTemplate extends MmluTemplate {
  maxTokens?: number;
}

function loadTemplate(ref: z.output<typeof TemplateRef>, configsDir: string, baseDir: string, file?: string): LoadedTemplate {
  let raw: unknown = ref;
  let where = file;
  let field = 'template';
  if (typeof ref === 'string') {
    const path = findDataFile(ref, 'templates', configsDir, baseDir);
    if (!path) {
      throw new InputError('template', `unknown template "${ref}"`, `use a file name from ${join(configsDir, 'templates')} (${listYaml(join(configsDir, 'templates'))}), a path, or inline {text: ...}`, file);
    }
    raw = readConfigFile(path);
    where = path;
    field = '(template file)';
  }
  const parsed = z
    .object({
      name: z.string().default('inline'),
      task: z.string().optional(),
      text: z.string().min(1),
      no_persona: z.string().optional(),
      separator: z.string().default(': '),
      generation: z.object({ max_tokens: z.number().int().positive().optional() }).optional(),
      description: z.string().optional(),
    })
    // Strict like the config: a typo such as `no-persona` or `seperator` must not silently change the prompts.
    .strict()
    .safeParse(raw, { reportInput: true });
  if (!parsed.success) throw zodToInputError(parsed.error, where);
  const t = parsed.data;
  const check = (text: string, key: string, need: string[], forbid: string[]) => {
    const used = placeholders(text);
    const missing = need.filter((p) => !used.includes(p));
    const unknown = used.filter((p) => !['context', 'character', 'task'].includes(p) || forbid.includes(p));
    if (missing.length) throw new InputError(`${field === 'template' ? 'template.' : ''}${key}`, `the template has no ${missing.map((m) => `{${m}}`).join(' or ')} placeholder`, `put ${missing.map((m) => `{${m}}`).join(' and ')} where the ${missing.map((m) => (m === 'context' ? 'question' : 'persona')).join(' and ')} go(es); write literal braces as {{ and }}`, where);
    if (unknown.length) throw new InputError(`${field === 'template' ? 'template.' : ''}${key}`, `unknown placeholder(s) ${unknown.map((m) => `{${m}}`).join(', ')}`, 'use only {context}, {character} and {task}; write literal braces as {{ and }}', where);
  };
  check(t.text, 'text', ['context', 'character'], []);
  if (t.no_persona !== undefined) check(t.no_persona, 'no_persona', ['context'], ['character']);
  return {
    name: t.name,
    separator: t.separator,
    text: t.text,
    ...(t.no_persona !== undefined ? { noPersona: t.no_persona } : {}),
    ...(t.generation?.max_tokens ? { maxTokens: t.generation.max_tokens } : {}),
  };
}

function findDataFile(ref: string, kind: 'personas' | 'templates' | 'models', configsDir: string, baseDir: string): string | undefined {
  const candidates = ref.endsWith('.yaml') || ref.endsWith('.yml') ? [resolve(baseDir, ref), resolve(ref)] : [join(configsDir, kind, `${ref}.yaml`), join(baseDir, kind, `${ref}.yaml`)];
  return candidates.find((c) => existsSync(c));
}

function listYaml(dir: string): string {
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
