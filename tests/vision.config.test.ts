/** The vision config: the seed's defaults, strictness (unknown keys refused), template checks, the configs parse. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import './support/tasks.js';
import { VisionConfig } from '../tasks/vision/config.js';
import { DEFAULT_PERSONAS, SEED_TEMPLATE } from '../tasks/vision/prompts.js';
import { BUILTIN_CONFIGS, resolveConfig } from '../experiment/load.js';

const models = { llm: { backend: 'openai', model: 'gpt-test' }, clip: { backend: 'clip', path: 'Xenova/clip-vit-base-patch32' } };
const issues = (raw: unknown) => {
  const r = VisionConfig.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('vision config', () => {
  it("fills in the seed's defaults", () => {
    const c = VisionConfig.parse({ task: 'vision', data: { dataset: 'cub', path: '/data/CUB' }, models });
    expect(c.personas).toEqual([{ name: 'vision-seed', personas: [...DEFAULT_PERSONAS] }]);
    expect(c.template).toEqual({ text: SEED_TEMPLATE, impersonation_command: 'If you were a', n_words: 45, stop: ['Q:', 'A:'] });
    expect(c.describe).toEqual({ temperature: 0.7, max_tokens: 96, top_k: 50, top_p: 1.0, seed: 2016, replicates: 1 });
    expect(c.truncation).toBe('seed');
    expect(c.data).toEqual({ dataset: 'cub', path: '/data/CUB', split: 'test' });
    const cars = VisionConfig.parse({ task: 'vision', data: { dataset: 'aircraft' }, models });
    expect(cars.data).toEqual({ dataset: 'aircraft', download: true, names_from: 'train' });
  });

  it('refuses unknown keys at every level, bad enums and broken templates', () => {
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, models, temprature: 1 })).toEqual([expect.stringMatching(/Unrecognized key.*temprature/)]);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x', splt: 'test' }, models })[0]).toMatch(/^data: Unrecognized key.*splt/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, models, describe: { topk: 5 } })[0]).toMatch(/^describe: Unrecognized key/);
    expect(issues({ task: 'vision', data: { dataset: 'imagenet' }, models })[0]).toMatch(/^data\.dataset/);
    expect(issues({ task: 'vision', data: { dataset: 'folder' }, models })[0]).toMatch(/^data\.path/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, models, truncation: 'none' })[0]).toMatch(/^truncation/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, models, template: { text: 'What is {class_name}?' } })[0]).toMatch(/^template: .*impersonation_command/);
  });

  it('each role needs a model with its capabilities', () => {
    const data = { dataset: 'cub', path: join(import.meta.dirname, 'fixtures', 'toy-cub') };
    expect(() => resolveConfig({ task: 'vision', data, models: { llm: models.llm } })).toThrow(/models\.clip: task vision needs a model for role clip \(TextEmbedder & ImageEmbedder\)/);
    expect(() => resolveConfig({ task: 'vision', data, models: { llm: models.llm, clip: models.llm } })).toThrow(/models\.clip: backend openai cannot be the clip model: the task needs TextEmbedder & ImageEmbedder.*use a backend .*: clip/);
    expect(() => resolveConfig({ task: 'vision', data, models: { llm: models.clip, clip: models.clip } })).toThrow(/models\.llm: backend clip cannot be the llm model: the task needs Generator/);
    expect(resolveConfig({ task: 'vision', data, models }, ['name=x'])).toMatchObject({ task: 'vision', run: 'x', models: { clip: { backend: 'clip', variant: 'fp32' } } });
  });

  it('the configs in configs/ parse', () => {
    for (const f of ['vl-demo.yaml', 'vl-cub.yaml', 'vl-cars.yaml']) expect(issues(parse(readFileSync(join(BUILTIN_CONFIGS, f), 'utf8'))), f).toEqual([]);
  });
});

describe('vl-demo without the tiny CLIP fixture', () => {
  it('offline: the error names models.clip.candidates and scripts/make-fixtures.sh', async () => {
    const { readConfigFile, resolveConfigOnline } = await import('../experiment/load.js');
    const raw = readConfigFile(join(BUILTIN_CONFIGS, 'vl-demo.yaml')) as { models: { clip: { candidates: { path: string }[] } } };
    raw.models.clip.candidates[0]!.path = '../.cache/fixtures/no-such-clip';
    const had = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      await expect(resolveConfigOnline(raw, [], { baseDir: BUILTIN_CONFIGS, file: 'vl-demo.yaml' })).rejects.toThrow(
        /vl-demo\.yaml: models\.clip\.candidates: no model candidate is usable: .*no-such-clip does not exist; Xenova\/clip-vit-base-patch32 could not be downloaded \(HF_HUB_OFFLINE=1\)\. Fix: .*bash scripts\/make-fixtures\.sh/,
      );
    } finally {
      if (had === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = had;
    }
  });
});
