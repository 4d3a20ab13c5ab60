/**
 * The spec hash finds a run again after an upgrade (resume, status, results): it must not change when the engine's
 * code moves. Pinned to the values main computed (ece7fb3) before tasks owned their config. The demo configs name a
 * local model whose absolute path differs per machine, so the model is replaced by machine-independent ones here.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BUILTIN_CONFIGS, readConfigFile, resolveConfig } from '../experiment/load.js';
import '../tasks/index.js';

const MODELS = {
  openai: { backend: 'openai', model: 'gpt-4o-mini' },
  hub: { backend: 'onnx', path: 'onnx-community/Llama-3.2-1B-Instruct', variant: 'q4' },
} as const;

function hashOf(config: string, model: keyof typeof MODELS): string {
  const file = join(BUILTIN_CONFIGS, config);
  const raw = { ...(readConfigFile(file) as Record<string, unknown>), model: MODELS[model] };
  return resolveConfig(raw, [], { file, baseDir: BUILTIN_CONFIGS }).specHash;
}

describe('spec hash of existing configs (runs must resume after upgrade)', () => {
  it.each([
    ['mmlu-demo.yaml', 'openai', 'cad0bb4d9d54b263a4400ad68925ee5a922ee0dbd50a8d434af6a4671297698d'],
    ['mmlu-demo.yaml', 'hub', '56f314007d8b4107972afcf7e71c0ca8cd1354227554adf0a573ffc4a29acdac'],
    ['bandit-demo.yaml', 'openai', 'a05e448b010fae9a5f6735cf6ad84895f2d20a03c2736be749e491be3fc2c054'],
    ['bandit-demo.yaml', 'hub', 'd6d0c45961ddd4e87cd9205f83a43df9fd50793431758b79364876c7d92d62f3'],
    ['mmlu-fork-late.yaml', 'openai', 'cfa864c2ac5f94d9da8c9e2e2b8ff754f82e958e98f53c1c9223a037d7722e32'],
  ] as const)('%s with the %s model', (config, model, pinned) => {
    expect(hashOf(config, model)).toBe(pinned);
  });
});
