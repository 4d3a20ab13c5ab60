/**
 * SPEC §2 golden renderings (../shared/spec/golden/mmlu.json), byte for byte: every case × every rendering, with
 * items read by the product's CSV loader from the shared MMLU folder and, independently, built from the golden row;
 * templates come from configs/templates/*.yaml through the product's config loading, so the data files are tested.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUILTIN_CONFIGS, loadExperiment } from '../experiment/load.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import { loadSubject, OPTION_LETTERS, type MmluItem, type MmluRow, type MmluSplit } from '../tasks/mmlu/data.js';
import { itemText } from '../tasks/mmlu/prompts.js';
import { mmluPrompt } from '../tasks/mmlu/runner.js';
import type { PromptFormat } from '../prompts/formats.js';
import { SHARED, goldenPath } from './support/golden.js';

const MMLU_DATA = join(SHARED, 'data', 'mmlu');

interface GoldenRendering {
  backend: string;
  rendered: string;
  sha256_utf8: string;
  chars: number;
}
interface GoldenCase {
  inputs: { task: string; split: string; index_in_split: number; persona: string; row: MmluRow; label_index: number };
  dataset_item_text: string;
  renderings: GoldenRendering[];
}
const golden = JSON.parse(readFileSync(goldenPath('mmlu.json'), 'utf8')) as { template: string; cases: GoldenCase[] };
const personasGolden = JSON.parse(readFileSync(goldenPath('personas.json'), 'utf8')) as { mmlu_personas_in_config_order: string[] };

/** Which product settings reproduce a golden rendering, recognised from its `backend` description. */
interface Variant {
  id: string;
  template: string;
  format: PromptFormat;
}
function variantOf(backend: string): Variant {
  if (backend.startsWith('plain ')) return { id: 'plain', template: 'mmlu_paper', format: 'plain' };
  if (backend.startsWith('llama-3 chat')) return { id: 'llama3', template: 'mmlu_paper', format: 'llama3_chat' };
  if (backend.startsWith('vicuna_v1.1 chat')) return { id: 'vicuna', template: 'mmlu_paper', format: 'vicuna_v1.1' };
  if (backend.startsWith('RolyPlaying fork late variant')) return { id: 'fork_late', template: 'mmlu_fork_late', format: 'plain' };
  throw new Error(`golden rendering "${backend}" is not mapped to a template/format: extend variantOf`);
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Specs resolved from a YAML file per template × format, exactly as `rolyplay run` would load them. */
const specs = new Map<string, MmluSpec>();
const dir = mkdtempSync(join(tmpdir(), 'rolyplay-golden-'));
function specFor(template: string, format: PromptFormat): MmluSpec {
  const key = `${template}|${format}`;
  let spec = specs.get(key);
  if (!spec) {
    const file = join(dir, `${template}-${format}.yaml`);
    writeFileSync(
      file,
      [
        'task: mmlu',
        `data: {path: ${JSON.stringify(MMLU_DATA)}, subjects: [abstract_algebra, clinical_knowledge, high_school_european_history]}`,
        'personas: [mmlu_experts]',
        `template: ${template}`,
        `format: ${format}`,
        'model: {backend: openai, model: golden}',
        '',
      ].join('\n'),
    );
    spec = loadExperiment(file);
    specs.set(key, spec);
  }
  return spec;
}

function itemFromGoldenRow(c: GoldenCase): MmluItem {
  return { subject: c.inputs.task, split: c.inputs.split as MmluSplit, index: c.inputs.index_in_split, row: { ...c.inputs.row }, label: c.inputs.label_index };
}

describe('golden file sanity', () => {
  it('has cases, and each rendering hashes to its own sha256_utf8', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(4);
    for (const c of golden.cases) {
      expect(c.renderings.map((r) => variantOf(r.backend).id).sort()).toEqual(['fork_late', 'llama3', 'plain', 'vicuna']);
      for (const r of c.renderings) {
        expect(sha256(r.rendered)).toBe(r.sha256_utf8);
        expect([...r.rendered].length).toBe(r.chars); // Python len(): code points
      }
    }
  });

  it('the mmlu_paper template file holds the seed template byte for byte', () => {
    expect(specFor('mmlu_paper', 'plain').template).toMatchObject({ name: 'mmlu_paper', text: golden.template, separator: ': ' });
  });
});

describe.each(golden.cases.map((c) => [`${c.inputs.task}/${c.inputs.split}/${c.inputs.index_in_split} as ${c.inputs.persona}`, c] as const))('golden case %s', (_name, c) => {
  let loaded: MmluItem;
  beforeAll(() => {
    const items = loadSubject(MMLU_DATA, c.inputs.task, c.inputs.split as MmluSplit);
    loaded = items[c.inputs.index_in_split] as MmluItem;
  });

  it('the product loader reads the golden row, label and item text from the shared CSV', () => {
    expect(loaded).toBeDefined();
    expect(loaded.row).toEqual(c.inputs.row);
    expect(loaded.label).toBe(c.inputs.label_index);
    expect(OPTION_LETTERS[loaded.label]).toBe(c.inputs.row.target);
    expect(loaded).toMatchObject({ subject: c.inputs.task, split: c.inputs.split, index: c.inputs.index_in_split });
    expect(itemText(loaded)).toBe(c.dataset_item_text);
  });

  it.each(c.renderings.map((r) => [variantOf(r.backend).id, r] as const))('%s rendering is reproduced byte for byte', (_id, r) => {
    const v = variantOf(r.backend);
    const spec = specFor(v.template, v.format);
    expect(spec.format).toBe(v.format);
    expect(spec.template.name).toBe(v.template);
    for (const [source, item] of [['CSV loader', loaded], ['golden row', itemFromGoldenRow(c)]] as const) {
      const text = mmluPrompt(spec, item, c.inputs.persona).text;
      expect(text, `${v.id} from the ${source}`).toBe(r.rendered);
      expect(sha256(text), `${v.id} sha256 from the ${source}`).toBe(r.sha256_utf8);
    }
  });
});

describe('personas', () => {
  it('configs/personas/mmlu_experts.yaml is the seed persona list in config order', () => {
    const expected = personasGolden.mmlu_personas_in_config_order;
    expect(expected).toHaveLength(57);
    // Through the config loader (what a run uses) and as the raw data file.
    expect(specFor('mmlu_paper', 'plain').personas).toEqual(expected);
    const file = parseYaml(readFileSync(join(BUILTIN_CONFIGS, 'personas', 'mmlu_experts.yaml'), 'utf8')) as { personas: string[] };
    expect(file.personas).toEqual(expected);
  });
});

describe('single-pass substitution', () => {
  const question = 'Which of {character}, {context}, {task} and {{x}} is literal? {}';
  const item: MmluItem = {
    subject: 'abstract_algebra',
    split: 'test',
    index: 0,
    row: { input: question, A: '{character}', B: '{{x}}', C: '}{', D: '{context}', target: 'A' },
    label: 0,
  };

  it('never re-expands braces that come from the question, its options or the persona (plain and llama-3)', () => {
    const persona = 'expert in {context} and {{y}}';
    const context = `${question}\nA: {character}\nB: {{x}}\nC: }{\nD: {context}\n`;
    expect(itemText(item)).toBe(context);
    // The expected prompt is put together by hand from the seed template's fixed parts.
    const [head, rest] = golden.template.split('{context}') as [string, string];
    const [mid, tail] = rest.split('{character}') as [string, string];
    const plain = head + context + mid + persona + tail;
    expect(plain).toContain('Question: Which of {character}, {context}, {task} and {{x}} is literal? {}\nA: {character}\nB: {{x}}');
    expect(mmluPrompt(specFor('mmlu_paper', 'plain'), item, persona).text).toBe(plain);
    expect(mmluPrompt(specFor('mmlu_paper', 'llama3_chat'), item, persona).text).toBe(
      `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${plain}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
    );
  });

  it('the fork variant too, with its ") " separator', () => {
    const text = mmluPrompt(specFor('mmlu_fork_late', 'plain'), item, 'poet').text;
    expect(text).toBe(
      `You are a poet, would you answer the following question with A, B, C or D? \n Question: ${question}\nA) {character}\nB) {{x}}\nC) }{\nD) {context}\n\n Answer: `,
    );
  });
});
