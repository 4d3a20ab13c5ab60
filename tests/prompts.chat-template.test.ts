/**
 * format: chat_template: the model folder's own template renders the messages. Checked against the template text
 * itself (rendered here with @huggingface/jinja, the renderer of transformers.js, from tokenizer_config.json), against
 * ChatML written out by hand, for the BOS rule (HF adds no special tokens of its own around a template), through the
 * config, and on the real SmolLM2 weights (its scores differ by persona).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalOnnxBackend } from '../backends/onnx/backend.js';
import { unloadLocalModels } from '../backends/onnx/model.js';
import { checkFormat, encodePrompt, promptTokens } from '../backends/onnx/tokens.js';
import { chatMessages, formatPrompt } from '../prompts/formats.js';
import { resolveConfig } from '../experiment/load.js';
import { InputError } from '../experiment/errors.js';
import { mmluPrompt } from '../tasks/mmlu/runner.js';
import { loadSubject } from '../tasks/mmlu/data.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import { MMLU_DATA } from './support/harness.js';
import { SMOLLM2, TINY, llama3TokenizerDir, realModelOrFail } from './support/localFixtures.js';

const REAL = realModelOrFail();
afterAll(unloadLocalModels);

const mmluConfig = (extra: Record<string, unknown>) => ({
  name: 'chat',
  task: 'mmlu',
  data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 2 },
  personas: [{ name: 'p', personas: ['virology expert', 'none'] }],
  model: { backend: 'onnx', path: TINY },
  ...extra,
});

describe('chat_template in the config', () => {
  it('puts the persona into the system message as configured; "none" gets none', () => {
    const spec = resolveConfig(mmluConfig({ format: 'chat_template', chat: { system: 'You are a {persona}.' } })) as MmluSpec;
    expect(spec.chat).toEqual({ system: 'You are a {persona}.' });
    const item = loadSubject(MMLU_DATA, 'abstract_algebra', 'test')[0]!;
    const p = mmluPrompt(spec, item, 'virology expert');
    expect(p.system).toBe('You are a virology expert.');
    expect(p.user).toContain('If you were a virology expert, which answer would you choose?');
    expect(JSON.parse(p.text)).toEqual([
      { role: 'system', content: 'You are a virology expert.' },
      { role: 'user', content: p.user },
    ]);
    expect(mmluPrompt(spec, item, 'none').system).toBeUndefined();
  });

  it('defaults: MMLU no system message, the bandit the fork\'s "You are a {persona}."', () => {
    expect((resolveConfig(mmluConfig({ format: 'chat_template' })) as MmluSpec).chat).toEqual({ system: null });
    expect((resolveConfig(mmluConfig({ format: 'chat_template', chat: { system: 'none' } })) as MmluSpec).chat).toEqual({ system: null });
    const bandit = resolveConfig({ task: 'bandit', name: 'b', format: 'chat_template', model: { backend: 'onnx', path: TINY } });
    expect(bandit.chat).toEqual({ system: 'You are a {persona}.' });
  });

  it('rejects chat without chat_template and unknown placeholders, naming field and fix', () => {
    const a = (() => { try { resolveConfig(mmluConfig({ format: 'plain', chat: { system: 'You are a {persona}.' } })); } catch (e) { return e; } })();
    expect(a).toBeInstanceOf(InputError);
    expect((a as InputError).field).toBe('chat');
    expect((a as Error).message).toContain('set format: chat_template');
    const b = (() => { try { resolveConfig(mmluConfig({ format: 'chat_template', chat: { system: 'You are {character}.' } })); } catch (e) { return e; } })();
    expect((b as InputError).field).toBe('chat.system');
    expect((b as Error).message).toContain('{persona}');
  });

  it('a model without a chat template is refused with the fix', async () => {
    const tok = await AutoTokenizer.from_pretrained(TINY, { local_files_only: true });
    expect(() => checkFormat(tok, 'chat_template', TINY)).toThrow(/no "chat_template".*use a named format/s);
  });
});

describe('the Llama-3 template: one BOS, written by the template', () => {
  let tok: PreTrainedTokenizer;
  beforeAll(async () => {
    tok = await AutoTokenizer.from_pretrained(llama3TokenizerDir(), { local_files_only: true });
  });
  it('renders like the template text and does not double BOS (llama3_chat, the seed\'s format, does)', () => {
    const turns = { system: 'You are a detective.', user: 'Which answer?  ' };
    const ids = promptTokens(tok, 'chat_template', { ...turns, text: formatPrompt('chat_template', turns) });
    const config = JSON.parse(readFileSync(path.join(llama3TokenizerDir(), 'tokenizer_config.json'), 'utf8'));
    const expected = new Template(config.chat_template).render({ messages: chatMessages(turns), bos_token: '<|begin_of_text|>', add_generation_prompt: true });
    expect(tok.decode(ids)).toBe(expected);
    expect(expected).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a detective.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhich answer?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(ids.filter((id) => id === 128000)).toHaveLength(1);
    const seed = encodePrompt(tok, formatPrompt('llama3_chat', turns));
    expect(seed.filter((id) => id === 128000)).toHaveLength(2);
  });
});

describe.runIf(REAL)('SmolLM2-135M-Instruct: its ChatML template', () => {
  let tok: PreTrainedTokenizer;
  beforeAll(async () => {
    tok = await AutoTokenizer.from_pretrained(SMOLLM2, { local_files_only: true });
  });

  it('renders system + user as the template text and as ChatML written out', () => {
    const turns = { system: 'You are a virology expert.', user: 'Question?\nA: 1\nB: 2' };
    const ids = promptTokens(tok, 'chat_template', { ...turns, text: '' });
    const config = JSON.parse(readFileSync(path.join(SMOLLM2, 'tokenizer_config.json'), 'utf8'));
    const jinja = new Template(config.chat_template).render({ messages: chatMessages(turns), add_generation_prompt: true });
    const chatml = '<|im_start|>system\nYou are a virology expert.<|im_end|>\n<|im_start|>user\nQuestion?\nA: 1\nB: 2<|im_end|>\n<|im_start|>assistant\n';
    expect(jinja).toBe(chatml);
    expect(tok.decode(ids)).toBe(chatml);
    expect(ids).toEqual(tok.encode(chatml, { add_special_tokens: false }));
    // <|im_start|> (id 1, also its BOS token) and <|im_end|> (2) are single tokens: 3 turns open and 2 close.
    expect(ids.filter((i) => i === 1)).toHaveLength(3);
    expect(ids.filter((i) => i === 2)).toHaveLength(2);
    expect(ids[0]).toBe(1);
  });

  it('without a system message the template inserts its own default one', () => {
    const ids = promptTokens(tok, 'chat_template', { user: 'Hi', text: '' });
    expect(tok.decode(ids)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('the real weights answer differently per persona', async () => {
    const spec = resolveConfig(mmluConfig({ format: 'chat_template', chat: { system: 'You are a {persona}.' } })) as MmluSpec;
    const personas = ['abstract algebra expert', 'five year old child', 'none'];
    const items = loadSubject(MMLU_DATA, 'abstract_algebra', 'test').slice(0, 4);
    const backend = new LocalOnnxBackend({ path: SMOLLM2, variant: 'int8', format: 'chat_template', maxBatch: 8 });
    const out = await backend.scoreOptions(items.flatMap((it) => personas.map((p) => ({ prompt: mmluPrompt(spec, it, p), options: ['A', 'B', 'C', 'D'] }))));
    const lp = out.map((o) => (o.ok ? o.value.logprobs : []));
    for (let q = 0; q < items.length; q++) {
      const [a, b, c] = [lp[3 * q]!, lp[3 * q + 1]!, lp[3 * q + 2]!];
      const gap = (x: number[], y: number[]) => Math.max(...x.map((v, j) => Math.abs(v - y[j]!)));
      expect(gap(a, b)).toBeGreaterThan(0.01);
      expect(gap(a, c)).toBeGreaterThan(0.01);
      for (const row of [a, b, c]) expect(row.reduce((s, v) => s + Math.exp(v), 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
  }, 300_000);
});
