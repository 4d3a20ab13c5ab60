/** The vision config draft: the seed's defaults, strictness (unknown keys refused), template checks, the drafts parse. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VisionConfig } from '../tasks/vision/config.js';
import { DEFAULT_PERSONAS, SEED_TEMPLATE } from '../tasks/vision/prompts.js';

const llm = { backend: 'openai', model: 'gpt-test' };
const issues = (raw: unknown) => {
  const r = VisionConfig.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('vision config draft', () => {
  it("fills in the seed's defaults", () => {
    const c = VisionConfig.parse({ task: 'vision', data: { dataset: 'cub', path: '/data/CUB' }, llm });
    expect(c.personas).toEqual([...DEFAULT_PERSONAS]);
    expect(c.template).toEqual({ text: SEED_TEMPLATE, impersonation_command: 'If you were a', n_words: 45, stop: ['Q:', 'A:'] });
    expect(c.describe).toEqual({ temperature: 0.7, max_tokens: 96, top_k: 50, top_p: 1.0, seed: 2016, replicates: 1 });
    expect(c.truncation).toBe('seed');
    expect(c.clip).toEqual({ path: 'Xenova/clip-vit-base-patch32', variant: 'fp32' });
    expect(c.data).toEqual({ dataset: 'cub', path: '/data/CUB', split: 'test' });
    const cars = VisionConfig.parse({ task: 'vision', data: { dataset: 'aircraft' }, llm });
    expect(cars.data).toEqual({ dataset: 'aircraft', download: true, names_from: 'train' });
  });

  it('refuses unknown keys at every level, bad enums, repeated personas and broken templates', () => {
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, llm, temprature: 1 })).toEqual([expect.stringMatching(/Unrecognized key.*temprature/)]);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x', splt: 'test' }, llm })[0]).toMatch(/^data: Unrecognized key.*splt/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, llm, describe: { topk: 5 } })[0]).toMatch(/^describe: Unrecognized key/);
    expect(issues({ task: 'vision', data: { dataset: 'imagenet' }, llm })[0]).toMatch(/^data\.dataset/);
    expect(issues({ task: 'vision', data: { dataset: 'folder' }, llm })[0]).toMatch(/^data\.path/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, llm, truncation: 'none' })[0]).toMatch(/^truncation/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, llm, personas: ['man', 'man'] })[0]).toMatch(/personas must not repeat/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' }, llm, template: { text: 'What is {class_name}?' } })[0]).toMatch(/^template: .*impersonation_command/);
    expect(issues({ task: 'vision', data: { dataset: 'cub', path: 'x' } })[0]).toMatch(/^llm/);
  });

  it('the draft configs parse', () => {
    const dir = join(import.meta.dirname, '..', 'tasks', 'vision', 'configs');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['vl-cars.yaml', 'vl-cub.yaml', 'vl-demo.yaml']);
    for (const f of files) expect(issues(parse(readFileSync(join(dir, f), 'utf8'))), f).toEqual([]);
  });
});
