/**
 * Description prompts against golden/clip_descriptions.json: every case × every rendering byte for byte (and its
 * sha256 and length), the two templates, the `none` and `class_name` baselines, and bad templates.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PromptFormat } from '../prompts/formats.js';
import {
  checkDescribeTemplate,
  DEFAULT_PERSONAS,
  describePrompt,
  personaTemplate,
  renderPrompt,
  SEED_DESCRIBE_TEMPLATE,
  SEED_PERSONAS,
} from '../tasks/vision/prompts.js';
import { goldenPath } from './support/golden.js';

interface Rendering { backend: string; rendered: string; sha256_utf8: string; chars: number }
const golden = JSON.parse(readFileSync(goldenPath('clip_descriptions.json'), 'utf8')) as {
  template_after_impersonation_command: string;
  none_template: string;
  cases: { inputs: { persona: string; class_name: string; n_words: number }; renderings: Rendering[] }[];
};

function formatOf(backend: string): PromptFormat {
  if (backend.startsWith('plain')) return 'plain';
  if (backend.startsWith('llama-3 chat')) return 'llama3_chat';
  if (backend.startsWith('vicuna_v1.1')) return 'vicuna_v1.1';
  throw new Error(`unknown golden backend ${backend}`);
}

describe('vision description prompts (golden)', () => {
  it('templates after the command substitution and the none rewrite', () => {
    expect(personaTemplate(SEED_DESCRIBE_TEMPLATE, 'man')).toBe(golden.template_after_impersonation_command);
    expect(personaTemplate(SEED_DESCRIBE_TEMPLATE, 'none')).toBe(golden.none_template);
    expect(personaTemplate(SEED_DESCRIBE_TEMPLATE, 'None')).toBe(golden.none_template); // .lower() == "none"
  });

  const all = golden.cases.flatMap((c) => c.renderings.map((r) => ({ c, r })));
  expect(all.length).toBe(12);
  for (const { c, r } of all) {
    it(`${c.inputs.persona} / ${c.inputs.class_name} / ${r.backend}`, () => {
      const plain = describePrompt(c.inputs.persona, c.inputs.class_name, { ...SEED_DESCRIBE_TEMPLATE, nWords: c.inputs.n_words });
      expect(plain).not.toBeNull();
      const out = renderPrompt(formatOf(r.backend), plain!);
      expect('text' in out).toBe(true);
      const text = (out as { text: string }).text;
      expect(text).toBe(r.rendered);
      expect([...text].length).toBe(r.chars);
      expect(createHash('sha256').update(text, 'utf8').digest('hex')).toBe(r.sha256_utf8);
    });
  }

  it('chat_template gets one user message (no persona system message), the plain prompt as content', () => {
    const p = describePrompt('woman', 'AM General Hummer SUV 2000')!;
    expect(renderPrompt('chat_template', p)).toEqual({ messages: [{ role: 'user', content: p }] });
  });

  it('class_name makes no LLM call; personas default to the seed 11 + both baselines', () => {
    expect(describePrompt('class_name', 'Black footed Albatross')).toBeNull();
    expect(SEED_PERSONAS).toHaveLength(11);
    expect(DEFAULT_PERSONAS.slice(-2)).toEqual(['none', 'class_name']);
  });

  it('class names with braces or $ are inserted literally (one-pass format)', () => {
    expect(describePrompt('man', 'A {n} $& bird')).toContain('What is an A {n} $& bird?');
  });

  it('bad templates fail with the fix', () => {
    expect(() => checkDescribeTemplate({ ...SEED_DESCRIBE_TEMPLATE, text: 'What is {class_name}?' })).toThrow(/no \{impersonation_command\}.*add it/);
    expect(() => checkDescribeTemplate({ ...SEED_DESCRIBE_TEMPLATE, text: '{impersonation_command} {persona} {class_name}' })).toThrow(/unknown placeholders \{persona\}/);
    expect(() => checkDescribeTemplate({ ...SEED_DESCRIBE_TEMPLATE, nWords: 0 })).toThrow(/n_words/);
    expect(() => checkDescribeTemplate(SEED_DESCRIBE_TEMPLATE)).not.toThrow();
    const odd = { ...SEED_DESCRIBE_TEMPLATE, text: '{impersonation_command} {character}: what is an {class_name}?' };
    expect(() => describePrompt('none', 'x', odd)).toThrow(/cannot drop it/);
    expect(describePrompt('man', 'x', odd)).toBe('If you were a man: what is an x?');
  });
});
