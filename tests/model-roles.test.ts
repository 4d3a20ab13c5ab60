/**
 * Model roles: a task declares the roles it needs with the capabilities of each; a config names one model per role
 * (`models: {llm: ..., clip: ...}`), or `model:` for the primary role. Wrong pairings are InputErrors naming
 * `models.<role>` and the fix. The backend union comes from the registered backends (a test one is added here).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerBackend, type BackendDefinition } from '../backends/catalog.js';
import { InputError } from '../experiment/errors.js';
import { modelLabel, resolveConfig, type CommonSpec } from '../experiment/load.js';
import { commonFields } from '../experiment/schema.js';
import { registerTask } from '../experiment/tasks.js';
import { MMLU_DATA, tmpDir } from './support/harness.js';

const FakeClip = z.object({ backend: z.literal('fakeclip'), name: z.string().min(1), dim: z.number().int().positive().default(512) }).strict();
const fakeClip: BackendDefinition<z.output<typeof FakeClip>> = {
  name: 'fakeclip',
  options: FakeClip,
  capabilities: ['TextEmbedder', 'ImageEmbedder'],
  local: true,
  label: (o) => `fakeclip:${o.name}`,
  create: async () => ({ id: 'fakeclip' }),
};
registerBackend(fakeClip);

registerTask({
  name: 'roles-test',
  config: z.object({ task: z.literal('roles-test'), ...commonFields('items_per_batch', 4) }).strict(),
  roles: { llm: ['Generator'], clip: ['TextEmbedder', 'ImageEmbedder'] },
  resolve: (cfg, ctx) => ({ ...ctx.common(cfg, {}, { unitsPerBatch: cfg.execution.items_per_batch, defaultSystem: null }), task: 'roles-test' }),
  stages: [{ name: 'noop', plan: () => [], runBatch: async () => ({ cells: 0, discarded: 0 }) }],
  report: async () => ({ cells: 0, discarded: 0, files: {}, table: { columns: [], rows: [] } }),
  stored: async () => ({ cells: 0, discarded: 0 }),
  summary: () => 'roles-test',
  details: () => [],
  resultFiles: { csv: 'x', json: 'y' },
});

const LLM = { backend: 'openai', model: 'gpt-test' };
const CLIP = { backend: 'fakeclip', name: 'vit-b-32' };
const base = (extra: Record<string, unknown>) => ({ task: 'roles-test', personas: ['baseline'], output: { dir: tmpDir() }, ...extra });

function inputError(raw: unknown): InputError {
  try {
    resolveConfig(raw);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('model roles', () => {
  it('resolves one model per role, with the defaults of each backend\'s own options type', () => {
    const spec = resolveConfig(base({ models: { llm: LLM, clip: CLIP } })) as CommonSpec;
    expect(spec.model).toMatchObject(LLM);
    expect(spec.models).toEqual({ llm: spec.model, clip: { ...CLIP, dim: 512 } });
    expect(modelLabel(spec)).toBe('llm=openai:gpt-test clip=fakeclip:vit-b-32');
    // A local role sends the run to the local queue; `model:` is the primary role.
    expect(spec.execution.taskQueue).toBe('rolyplay-llm-local');
    expect((resolveConfig(base({ model: LLM, models: { clip: CLIP } })) as CommonSpec).specHash).toBe(spec.specHash);
    expect((resolveConfig(base({ models: { llm: LLM, clip: { ...CLIP, dim: 768 } } })) as CommonSpec).specHash).not.toBe(spec.specHash);
  });

  it('names models.<role> and the fix for a backend without the capability', () => {
    const err = inputError(base({ models: { llm: LLM, clip: LLM } }));
    expect(err.field).toBe('models.clip');
    expect(err.problem).toBe('backend openai cannot be the clip model: the task needs TextEmbedder & ImageEmbedder, it offers OptionScorer & Generator');
    expect(err.fix).toBe('use a backend with TextEmbedder & ImageEmbedder for models.clip: clip, fakeclip'); // the built-in clip backend and the test's own
    const llm = inputError(base({ models: { llm: CLIP, clip: CLIP } }));
    expect(llm.field).toBe('models.llm');
    expect(llm.fix).toBe('use a backend with Generator for models.llm: openai, onnx');
  });

  it('refuses a missing role, an unknown role, and the primary given twice', () => {
    expect(inputError(base({ model: LLM }))).toMatchObject({ field: 'models.clip', fix: 'add models.clip: {backend: ..., ...} (roles: llm, clip)' });
    expect(inputError(base({ models: { llm: LLM, clip: CLIP, vision: CLIP } }))).toMatchObject({ field: 'models.vision', fix: 'use models.llm, models.clip' });
    expect(inputError(base({ model: LLM, models: { llm: LLM, clip: CLIP } })).field).toBe('model');
    // Unknown keys inside a role's block are refused like anywhere else.
    expect(inputError(base({ models: { llm: LLM, clip: { ...CLIP, dims: 3 } } })).message).toMatch(/dims/);
  });

  it('a single-role task takes `model:` or `models.llm`, with the same spec and hash', () => {
    const mmlu = (m: Record<string, unknown>) => resolveConfig({ task: 'mmlu', data: { path: MMLU_DATA, subjects: ['anatomy'] }, personas: ['baseline'], ...m }) as CommonSpec;
    const a = mmlu({ model: LLM });
    const b = mmlu({ models: { llm: LLM } });
    expect(b).toEqual(a);
    expect(a.models).toBeUndefined();
    expect(inputError({ task: 'mmlu', data: { path: MMLU_DATA }, personas: ['baseline'], models: { clip: CLIP } })).toMatchObject({ field: 'models.clip', fix: 'use models.llm (or model)' });
    expect(inputError({ task: 'mmlu', data: { path: MMLU_DATA }, personas: ['baseline'], model: CLIP }).field).toBe('model');
  });
});
