/** MMLU's config: its schema, its spec, and how the one resolves into the other (data folder, subjects, template). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../experiment/errors.js';
import { findDataFile, listYaml, readConfigFile, zodToInputError, type CommonSpec, type ResolveContext } from '../../experiment/load.js';
import { commonFields, PersonaSetRef } from '../../experiment/schema.js';
import { MMLU_SUBJECTS } from './categories.js';
import { type MmluTemplate, placeholders } from './prompts.js';
import { MMLU_SPLITS, MMLU_TARBALL_URL, cachedMmluDir, checkMmluData, downloadMmlu, mmluCacheDir, type MmluSplit } from './data.js';

const posInt = z.number().int().positive();
const common = commonFields('questions_per_batch', 128);
/** The key of the data download (ResolveContext.needDownload). */
const DATA_DOWNLOAD = 'mmlu-data';

export const TemplateRef = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1).default('inline'),
      text: z.string().min(1),
      no_persona: z.string().min(1).optional(),
      separator: z.string().default(': '),
    })
    .strict(),
]);


export const MmluConfig = z
  .object({
    name: common.name,
    task: z.literal('mmlu'),
    data: z
      .object({
        path: z.string().min(1),
        split: z.enum(MMLU_SPLITS).default('test'),
        subjects: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
        /** Use only the first N questions of each subject (file order). */
        limit: posInt.optional(),
        /** When `path` does not exist: download the Hendrycks tarball into the cache (online) and use that. */
        download: z.boolean().default(true),
      })
      .strict(),
    personas: common.personas,
    /** Persona groups for the expert analysis (besides the experts, which are derived from the subjects). */
    groups: z.object({ neutral: z.array(PersonaSetRef).default([]) }).strict().default({ neutral: [] }),
    template: TemplateRef.default('mmlu_paper'),
    format: common.format,
    chat: common.chat,
    scoring: z
      .object({
        /** logits | generate (the seed's API path) | generate_fork (the fork's late rule: one generation, its letters
         * upper-cased; anything but A-D counts as "C" and as invalid; accuracy over all items). */
        mode: z.enum(['logits', 'generate', 'generate_fork']).default('logits'),
        /** generate mode: re-ask up to this many more times until the answer is exactly one of A-D. */
        max_tries: z.number().int().min(0).default(10),
        max_tokens: posInt.optional(),
        temperature: z.number().min(0).optional(),
        top_p: z.number().gt(0).max(1).optional(),
        top_k: posInt.optional(),
        /** Sampling seed (local models; API servers that accept `seed`). */
        seed: z.number().int().optional(),
      })
      .strict()
      .default({ mode: 'logits', max_tries: 10 }),
    model: common.model,
    models: common.models,
    execution: common.execution,
    output: common.output,
    budget: common.budget,
  })
  .strict();


export type MmluConfigInput = z.input<typeof MmluConfig>;
export type MmluConfigParsed = z.output<typeof MmluConfig>;

export interface MmluSpec extends CommonSpec {
  task: 'mmlu';
  data: { path: string; split: MmluSplit; subjects: string[]; limit?: number };
  groups: { neutral: string[] };
  template: MmluTemplate;
  scoring: { mode: MmluConfigParsed['scoring']['mode']; maxTries: number; maxTokens?: number; temperature?: number; topP?: number; topK?: number; seed?: number };
}

export function resolveMmlu(cfg: MmluConfigParsed, ctx: ResolveContext): MmluSpec {
  const { configsDir, baseDir, file, abs } = ctx;

  const subjects = cfg.data.subjects === 'all' ? [...MMLU_SUBJECTS] : cfg.data.subjects;
  const unknown = subjects.filter((s) => !(MMLU_SUBJECTS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InputError('data.subjects', `unknown MMLU subject(s) ${unknown.join(', ')}`, `use names like ${MMLU_SUBJECTS.slice(0, 3).join(', ')} (57 in all), or "all"`, file);
  }
  let dataPath = abs(cfg.data.path);
  let pending = false;
  if (!existsSync(dataPath) && cfg.data.download) {
    const cached = cachedMmluDir();
    const failure = ctx.downloadFailure(DATA_DOWNLOAD);
    if (cached) dataPath = cached;
    else if (failure === undefined) {
      pending = true;
      ctx.needDownload({
        key: DATA_DOWNLOAD,
        download: () => downloadMmlu(),
        offline: new InputError('data.path', `MMLU data folder ${dataPath} does not exist`, `\`rolyplay run\` downloads it when online (cached in ${mmluCacheDir()}); or point data.path at a folder with test/<subject>_test.csv files`, file),
      });
    } else {
      throw new InputError(
        'data.path',
        `MMLU data folder ${dataPath} does not exist and downloading ${process.env.ROLYPLAY_MMLU_URL ?? MMLU_TARBALL_URL} failed (${failure})`,
        `go online and run again (the download is cached in ${mmluCacheDir()}), or download that tarball elsewhere and extract its data/ folder to ${dataPath}, or point data.path at a folder with test/<subject>_test.csv files`,
        file,
      );
    }
  }
  if (!pending) {
    try {
      checkMmluData(dataPath, subjects, cfg.data.split);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(err.field, err.problem, err.fix, file);
      throw err;
    }
  }

  const neutral = ctx.personaSets(cfg.groups.neutral, 'groups.neutral');
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
  // MMLU's persona is in the question: no system message by default.
  return { ...ctx.common(cfg, results, { unitsPerBatch: cfg.execution.questions_per_batch, defaultSystem: null }), ...results, data, task: 'mmlu' };
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

