/**
 * Config loading (experiment/load.ts, overrides.ts, schema.ts): defaults, `key=value` overrides, strictness,
 * persona sets and groups, templates, and the stability of specHash / run names (a resumed run is found by them).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { InputError } from '../experiment/errors.js';
import { BUILTIN_CONFIGS, LOCAL_LLM_TASK_QUEUE, DEFAULT_TASK_QUEUE, loadExperiment, PACKAGE_ROOT, resolveConfig, type ExperimentSpec } from '../experiment/load.js';
import { MMLU_SUBJECTS } from '../tasks/mmlu/categories.js';

const MMLU_DATA = resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'mmlu');
const PAPER_TEXT =
  'Please consider the following multiple-choice question and the four answer options A, B, C, and D.\nQuestion: {context}\nIf you were a {character}, which answer would you choose?';
const NEUTRAL = ['student', 'average person', 'person', 'teacher', 'friend'];

type Raw = Record<string, unknown>;
function base(extra: Raw = {}): Raw {
  return {
    task: 'mmlu',
    data: { path: MMLU_DATA, subjects: ['abstract_algebra'] },
    personas: ['baseline'],
    model: { backend: 'openai', model: 'gpt-test' },
    ...extra,
  };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rolyplay-config-'));
}

/** Writes `content` (an object as YAML, or raw text) to dir/rel and returns the absolute path. */
function write(dir: string, rel: string, content: unknown): string {
  const file = join(dir, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : toYaml(content));
  return file;
}

/** The InputError thrown by fn (fails the test if fn does not throw one). */
function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw new Error(`expected an InputError, got ${String(err)}`);
  }
  throw new Error('expected an InputError, but nothing was thrown');
}

const load = (raw: unknown, overrides: string[] = [], baseDir = tmp()): ExperimentSpec => resolveConfig(raw, overrides, { baseDir });

describe('defaults', () => {
  it('fills every default of a minimal config file', () => {
    const dir = tmp();
    const file = write(dir, 'exp.yaml', base());
    const spec = loadExperiment(file);
    expect(spec.task).toBe('mmlu');
    expect(spec.data).toEqual({ path: MMLU_DATA, split: 'test', subjects: ['abstract_algebra'] });
    expect(spec.personas).toEqual(['none']);
    expect(spec.groups).toEqual({ neutral: [] });
    expect(spec.template).toEqual({ name: 'mmlu_paper', separator: ': ', text: PAPER_TEXT, noPersona: expect.stringContaining('Which answer would you choose?') });
    expect(spec.format).toBe('plain');
    expect(spec.scoring).toEqual({ mode: 'logits', maxTries: 10 });
    expect(spec.model).toEqual({ backend: 'openai', model: 'gpt-test', api_key_env: 'OPENAI_API_KEY', concurrency: 8, rpm: 3500, timeout_s: 60, top_logprobs: 20 });
    expect(spec.execution).toEqual({
      unitsPerBatch: 128,
      batchesPerShard: 16,
      shardsInFlight: 4,
      batchesInFlight: 2,
      heartbeatTimeoutMs: 30_000,
      taskQueue: DEFAULT_TASK_QUEUE,
    });
    expect(spec.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(spec.run).toBe(`mmlu-${spec.specHash.slice(0, 10)}`);
    // output.dir defaults to runs/ next to the config file, one folder per run.
    expect(spec.outDir).toBe(join(dir, 'runs', spec.run));
  });

  it('subjects default to all 57 MMLU subjects', () => {
    const spec = load(base({ data: { path: MMLU_DATA } }));
    expect(spec.data.subjects).toEqual([...MMLU_SUBJECTS]);
    expect(spec.data.subjects).toHaveLength(57);
  });

  it('relative data and output paths resolve against the config file, not the cwd', () => {
    const dir = tmp();
    const file = write(dir, 'sub/exp.yaml', base({ data: { path: '../mmlu-link', subjects: ['abstract_algebra'] }, output: { dir: 'out' } }));
    // A missing folder is reported with its resolved absolute path.
    const err = inputError(() => loadExperiment(file));
    expect(err.field).toBe('data.path');
    expect(err.message).toContain(join(dir, 'mmlu-link'));
    const ok = loadExperiment(write(dir, 'sub/ok.yaml', base({ output: { dir: 'out' } })));
    expect(ok.outDir).toBe(join(dir, 'sub', 'out', ok.run));
  });

  it('onnx models default to the local-model task queue; local paths become absolute, hub ids stay', () => {
    const dir = tmp();
    const local = load(base({ model: { backend: 'onnx', path: './models/tiny' } }), [], dir);
    expect(local.model).toEqual({ backend: 'onnx', path: join(dir, 'models', 'tiny'), variant: 'fp32', providers: ['cpu'], max_batch: 64 });
    expect(local.execution.taskQueue).toBe(LOCAL_LLM_TASK_QUEUE);
    const hub = load(base({ model: { backend: 'onnx', path: 'onnx-community/Llama-3.2-1B-Instruct' } }), [], dir);
    expect(hub.model).toMatchObject({ path: 'onnx-community/Llama-3.2-1B-Instruct' });
    // An explicit task queue wins over the backend's default.
    expect(load(base({ model: { backend: 'onnx', path: './m' }, execution: { task_queue: 'gpu-1' } })).execution.taskQueue).toBe('gpu-1');
  });

  it("a template's generation.max_tokens becomes the scoring default; scoring.max_tokens wins", () => {
    expect(load(base({ template: 'mmlu_answer_option', scoring: { mode: 'generate' } })).scoring).toEqual({ mode: 'generate', maxTries: 10, maxTokens: 1 });
    expect(load(base({ template: 'mmlu_answer_option', scoring: { mode: 'generate', max_tokens: 3, temperature: 0 } })).scoring).toEqual({
      mode: 'generate',
      maxTries: 10,
      maxTokens: 3,
      temperature: 0,
    });
  });
});

describe('key=value overrides', () => {
  it('data.subjects=[abstract_algebra], data.limit=8 and model.model=x', () => {
    const raw = base({ data: { path: MMLU_DATA, subjects: 'all' } });
    const spec = load(raw, ['data.subjects=[abstract_algebra]', 'data.limit=8', 'model.model=x']);
    expect(spec.data.subjects).toEqual(['abstract_algebra']);
    expect(spec.data.limit).toBe(8);
    expect(spec.model).toMatchObject({ backend: 'openai', model: 'x' });
    // The caller's config object is not modified.
    expect(raw.data).toEqual({ path: MMLU_DATA, subjects: 'all' });
    expect((raw.model as Raw).model).toBe('gpt-test');
  });

  it('creates nested keys that the config does not have yet', () => {
    const spec = load(base(), ['execution.task_queue=my-queue', 'scoring.temperature=0.5', 'groups.neutral=[neutral]', 'output.dir=/tmp/rolyplay-x']);
    expect(spec.execution).toMatchObject({ taskQueue: 'my-queue', unitsPerBatch: 128, batchesPerShard: 16 });
    expect(spec.scoring).toEqual({ mode: 'logits', maxTries: 10, temperature: 0.5 });
    expect(spec.groups.neutral).toEqual(NEUTRAL);
    expect(spec.outDir).toBe(join('/tmp/rolyplay-x', spec.run));
  });

  it('parses values as YAML, splits at the first "=" only, and the last override wins', () => {
    const spec = load(base(), ['model.base_url=http://127.0.0.1:9/v1?a=b', 'model.timeout_s=2.5', 'data.limit=3', 'data.limit=5', 'name="007"', 'personas=[baseline, {name: x, personas: [poet]}]']);
    expect(spec.model).toMatchObject({ base_url: 'http://127.0.0.1:9/v1?a=b', timeout_s: 2.5 });
    expect(spec.data.limit).toBe(5);
    expect(spec.run).toBe('007');
    expect(spec.personas).toEqual(['none', 'poet']);
  });

  it.each([
    ['x', 'overrides', 'is not key=value'],
    ['=5', 'overrides', 'is not key=value'],
    ['data..limit=3', 'overrides', 'empty key segment'],
    ['data.subjects=[abstract_algebra', 'data.subjects', 'not valid YAML'],
  ])('rejects the malformed override %j', (arg, field, problem) => {
    const err = inputError(() => load(base(), [arg]));
    expect(err.field).toBe(field);
    expect(err.message).toContain(problem);
    expect(err.fix.length).toBeGreaterThan(5);
  });

  it('a value of the wrong type names the field and does not claim it is missing', () => {
    const err = inputError(() => load(base(), ['name=007'])); // YAML reads 007 as the number 7
    expect(err.field).toBe('name');
    expect(err.problem).toContain('expected string, received number');
    expect(err.fix).not.toMatch(/^add /);
    const missing = inputError(() => load({ task: 'mmlu', data: { path: MMLU_DATA }, personas: ['baseline'] }));
    expect(missing.field).toBe('model');
    expect(missing.fix).toBe('add model');
  });
});

describe('unknown keys are rejected with the field named', () => {
  it.each([
    ['top level', base({ personaz: ['baseline'] }), '(top level)', 'personaz'],
    ['data', base({ data: { path: MMLU_DATA, limt: 8 } }), 'data', 'limt'],
    ['model', base({ model: { backend: 'openai', model: 'm', temprature: 0 } }), 'model', 'temprature'],
    ['onnx model', base({ model: { backend: 'onnx', path: 'a/b', batch: 2 } }), 'model', 'batch'],
    ['execution', base({ execution: { shard_in_flight: 2 } }), 'execution', 'shard_in_flight'],
    ['scoring', base({ scoring: { max_try: 2 } }), 'scoring', 'max_try'],
    ['inline template', base({ template: { text: PAPER_TEXT, seperator: ') ' } }), 'template', 'seperator'],
    ['inline persona set', base({ personas: [{ name: 'x', personas: ['a'], extra: 1 }] }), 'personas.0', 'extra'],
  ])('%s', (_where, raw, field, key) => {
    const err = inputError(() => load(raw));
    expect(err.field).toBe(field);
    expect(err.message).toContain(key);
  });

  it('through an override too, and the message starts with the config file', () => {
    const dir = tmp();
    const file = write(dir, 'exp.yaml', base());
    const err = inputError(() => loadExperiment(file, ['data.limt=8']));
    expect(err.field).toBe('data');
    expect(err.message.startsWith(`${file}: data: `)).toBe(true);
    expect(err.fix).toBe('remove or rename limt');
  });

  it('in a template file as well (a typo there would silently change every prompt)', () => {
    const dir = tmp();
    const tpl = write(dir, 'tpl.yaml', { name: 't', text: 'Q: {context} as {character}', 'no-persona': 'Q: {context}' });
    const err = inputError(() => load(base({ template: tpl })));
    expect(err.file).toBe(tpl);
    expect(err.message).toContain('no-persona');
  });

  it('wrong enum values list the allowed ones', () => {
    const err = inputError(() => load(base({ format: 'chatml' })));
    expect(err.field).toBe('format');
    expect(err.fix).toContain('"llama3_chat"');
    expect(inputError(() => load(base({ data: { path: MMLU_DATA, split: 'train' } }))).field).toBe('data.split');
  });
});

describe('persona sets', () => {
  it('by name from configs/personas', () => {
    expect(load(base({ personas: ['neutral'] })).personas).toEqual(NEUTRAL);
    expect(load(base({ personas: ['mmlu_experts'] })).personas).toHaveLength(57);
  });

  it('by path, relative to the config file or absolute', () => {
    const dir = tmp();
    write(dir, 'sets/mine.yaml', { name: 'mine', personas: ['chef', 'pilot'] });
    const abs = write(dir, 'elsewhere/other.yml', { personas: ['judge'] });
    const file = write(dir, 'exp.yaml', base({ personas: ['sets/mine.yaml', abs] }));
    expect(loadExperiment(file).personas).toEqual(['chef', 'pilot', 'judge']);
  });

  it('by name from a personas/ folder next to the config, or from another configs folder', () => {
    const dir = tmp();
    write(dir, 'personas/team.yaml', { personas: ['captain'] });
    expect(loadExperiment(write(dir, 'exp.yaml', base({ personas: ['team'] }))).personas).toEqual(['captain']);
    const configs = tmp();
    write(configs, 'personas/crew.yaml', { personas: ['sailor'] });
    expect(loadExperiment(write(dir, 'exp2.yaml', base({ personas: ['crew'], template: { text: PAPER_TEXT } })), [], configs).personas).toEqual(['sailor']);
  });

  it('inline, mixed with named sets, duplicates dropped in first-seen order', () => {
    const spec = load(base({ personas: [{ name: 'mine', personas: ['poet', 'student', 'none'] }, 'baseline', 'neutral'] }));
    expect(spec.personas).toEqual(['poet', 'student', 'none', 'average person', 'person', 'teacher', 'friend']);
  });

  it('an unknown set names the field and lists the sets there are', () => {
    const err = inputError(() => load(base({ personas: ['baseline', 'mmlu_expert'] })));
    expect(err.field).toBe('personas.1');
    expect(err.problem).toContain('"mmlu_expert"');
    expect(err.fix).toContain(join(BUILTIN_CONFIGS, 'personas'));
    expect(err.fix).toContain('mmlu_experts');
    expect(inputError(() => load(base({ personas: ['./missing.yaml'] }))).field).toBe('personas.0');
  });

  it('a set file without a personas list names that file', () => {
    const dir = tmp();
    const bad = write(dir, 'bad.yaml', { name: 'bad', persona: ['typo'] });
    const err = inputError(() => load(base({ personas: [bad] }), [], dir));
    expect(err.file).toBe(bad);
    expect(err.message).toContain('personas');
  });

  it('empty lists are rejected', () => {
    expect(inputError(() => load(base({ personas: [] }))).field).toBe('personas');
    expect(inputError(() => load(base({ personas: [{ name: 'x', personas: [] }] }))).field).toMatch(/^personas\.0/);
  });
});

describe('neutral groups', () => {
  it('default to none; named, path and inline sets are resolved like personas', () => {
    expect(load(base()).groups.neutral).toEqual([]);
    const dir = tmp();
    const path = write(dir, 'calm.yaml', { personas: ['monk', 'student'] });
    const spec = load(base({ groups: { neutral: ['neutral', path, { name: 'x', personas: ['poet'] }] } }), [], dir);
    expect(spec.groups.neutral).toEqual([...NEUTRAL, 'monk', 'poet']);
  });

  it('an unknown neutral set names its field', () => {
    const err = inputError(() => load(base({ groups: { neutral: ['neutral', 'nutral'] } })));
    expect(err.field).toBe('groups.neutral.1');
    expect(err.problem).toContain('"nutral"');
  });

  it('the groups key is strict', () => {
    expect(inputError(() => load(base({ groups: { neutral: [], experts: [] } }))).field).toBe('groups');
  });
});

describe('hash stability', () => {
  it('the same config gives the same specHash and run name, whatever the key order or the source', () => {
    const dir = tmp();
    const raw = base({ personas: ['neutral', 'baseline'], data: { path: MMLU_DATA, subjects: ['anatomy', 'abstract_algebra'], limit: 4 } });
    const a = loadExperiment(write(dir, 'a.yaml', raw));
    const b = loadExperiment(write(dir, 'b.yaml', raw));
    const reordered = Object.fromEntries(Object.entries(raw).reverse());
    const c = resolveConfig(JSON.parse(JSON.stringify(reordered)), [], { baseDir: dir });
    const d = load(base({ data: { path: MMLU_DATA, subjects: 'all' } }), ['data.subjects=[anatomy, abstract_algebra]', 'data.limit=4', 'personas=[neutral, baseline]'], dir);
    for (const s of [b, c, d]) {
      expect(s.specHash).toBe(a.specHash);
      expect(s.run).toBe(a.run);
      expect(s.outDir).toBe(a.outDir);
    }
  });

  it('is pinned: changing how specs hash orphans every existing run folder', () => {
    // Update deliberately (and say so in the release notes) if the spec's result-relevant content changes.
    const spec = load(base({ personas: ['neutral'], data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 8 } }));
    expect(spec.specHash).toBe(PINNED_HASH);
    expect(spec.run).toBe(`mmlu-${PINNED_HASH.slice(0, 10)}`);
  });

  it('execution, output, name and the data folder location do not change specHash', () => {
    const ref = load(base());
    const variants = [
      base({ execution: { questions_per_batch: 1, batches_per_shard: 2, shards_in_flight: 9, batches_in_flight: 3, heartbeat_s: 1, task_queue: 'q' } }),
      base({ output: { dir: '/tmp/elsewhere' } }),
      base({ data: { path: join(MMLU_DATA, '..', 'mmlu'), subjects: ['abstract_algebra'] } }),
    ];
    for (const v of variants) {
      const s = load(v);
      expect(s.specHash).toBe(ref.specHash);
      expect(s.run).toBe(ref.run);
    }
    const named = load(base({ name: 'my-run' }));
    expect(named.specHash).toBe(ref.specHash);
    expect(named.run).toBe('my-run');
  });

  it.each([
    ['data.limit=8'],
    ['data.subjects=[anatomy]'],
    ['data.split=val'],
    ['personas=[neutral]'],
    ['groups.neutral=[neutral]'],
    ['template=mmlu_fork_late'],
    ['format=llama3_chat'],
    ['scoring.mode=generate'],
    ['scoring.max_tries=3'],
    ['model.model=other'],
    ['model.top_logprobs=5'],
  ])('%s changes specHash and the derived run name', (override) => {
    const ref = load(base());
    const s = load(base(), [override]);
    expect(s.specHash).not.toBe(ref.specHash);
    expect(s.run).not.toBe(ref.run);
  });
});

describe('template placeholder validation', () => {
  it('an inline template gets defaults and may use {task} and literal braces', () => {
    const text = 'On {task} ({{literal}}): {context} You are a {character}.';
    const spec = load(base({ template: { text } }));
    expect(spec.template).toEqual({ name: 'inline', separator: ': ', text });
  });

  it.each([
    ['Question: {context}', 'template.text', 'no {character} placeholder'],
    ['If you were a {character}?', 'template.text', 'no {context} placeholder'],
    ['{context} {character} {persona}', 'template.text', 'unknown placeholder(s) {persona}'],
    ['{context} {character} {}', 'template.text', 'unknown placeholder(s) {}'],
    ['{context} {{character}}', 'template.text', 'no {character} placeholder'],
  ])('text %j is rejected', (text, field, problem) => {
    const err = inputError(() => load(base({ template: { text } })));
    expect(err.field).toBe(field);
    expect(err.problem).toContain(problem);
    expect(err.fix).toContain('{{');
  });

  it('no_persona needs {context} and must not use {character}', () => {
    const withChar = inputError(() => load(base({ template: { text: PAPER_TEXT, no_persona: 'Q {context} as {character}' } })));
    expect(withChar.field).toBe('template.no_persona');
    expect(withChar.problem).toContain('{character}');
    const noContext = inputError(() => load(base({ template: { text: PAPER_TEXT, no_persona: 'Which answer?' } })));
    expect(noContext.field).toBe('template.no_persona');
    expect(noContext.problem).toContain('{context}');
  });

  it('a template file without its placeholders is reported against that file', () => {
    const dir = tmp();
    const tpl = write(dir, 'templates/short.yaml', { name: 'short', text: 'Answer: {context}' });
    const err = inputError(() => loadExperiment(write(dir, 'exp.yaml', base({ template: 'short' }))));
    expect(err.file).toBe(tpl);
    expect(err.field).toBe('text');
    expect(err.problem).toContain('{character}');
  });

  it('an unknown template name lists the shipped ones', () => {
    const err = inputError(() => load(base({ template: 'mmlu_papr' })));
    expect(err.field).toBe('template');
    expect(err.fix).toContain('mmlu_fork_late, mmlu_paper');
  });
});

const PINNED_HASH = 'b9620faa0bbedf5ab319b310c757c3ea1a915e1fef7b421e9af90f3a82358fae';

describe('effective config (the workflow input `rolyplay run` sends)', () => {
  it('fills every default, keeps the overrides applied, and resolves to the same spec as the raw config', async () => {
    const { effectiveConfig, readConfigFile } = await import('../experiment/load.js');
    for (const name of ['mmlu-demo', 'bandit-demo']) {
      const file = join(BUILTIN_CONFIGS, `${name}.yaml`);
      const raw = readConfigFile(file);
      const overrides = name === 'mmlu-demo' ? ['data.limit=3', 'execution.questions_per_batch=2'] : ['games=4'];
      const eff = effectiveConfig(raw, overrides) as Raw & { execution: Raw; output: Raw };
      expect(eff.execution.batches_per_shard).toBe(16);
      expect(eff.output).toEqual({ dir: (raw as { output?: { dir: string } }).output?.dir ?? 'runs' });
      expect(eff.personas).toEqual((raw as Raw).personas);
      if (name === 'mmlu-demo') expect((eff.data as Raw).limit).toBe(3);
      else expect(eff.games).toBe(4);
      const opts = { file, baseDir: dirname(file) };
      const direct = resolveConfig(raw, overrides, opts);
      expect(resolveConfig(eff, [], opts)).toEqual(direct);
      // `run` also lists the overrides beside it: applying them again changes nothing.
      expect(resolveConfig(eff, overrides, opts).specHash).toBe(direct.specHash);
    }
  });
});
