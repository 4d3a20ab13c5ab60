/** The fork's late scoring rule (scoring.mode generate_fork), on the batch runner with a scripted backend. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Backend, GenerateRequest } from '../backends/types.js';
import { resolveConfig } from '../experiment/load.js';
import type { MmluSpec } from '../tasks/mmlu/config.js';
import { SqliteStore, collect } from '../store/results.js';
import { mmluTask } from '../tasks/mmlu/task.js';
import { MMLU_DATA, tmpDir } from './support/harness.js';

/** Answers by persona: the letters of " b." are "B"; "Hmm" has no option letter; "ab" is two letters. */
const ANSWERS: Record<string, string> = { 'abstract algebra expert': ' b.', poet: 'Hmm', none: 'ab' };

const scripted: Backend = {
  id: 'scripted',
  async scoreOptions() {
    throw new Error('not used');
  },
  async generate(requests: GenerateRequest[]) {
    return requests.map((r) => {
      const persona = /You are a (.*), would you answer/.exec(r.prompt.user)?.[1] ?? 'none';
      expect(r).toMatchObject({ maxTokens: 1, temperature: 0.5, topP: 0.9 });
      return { ok: true as const, value: { text: ANSWERS[persona] ?? '' } };
    });
  },
};

describe('generate_fork scoring', () => {
  it('reads letters upper-cased, counts anything else as C and as invalid, discards nothing', async () => {
    const outDir = tmpDir();
    const spec = resolveConfig({
      name: 'fork',
      task: 'mmlu',
      data: { path: MMLU_DATA, subjects: ['abstract_algebra'], limit: 4 },
      personas: [{ name: 'p', personas: ['abstract algebra expert', 'poet'] }, 'baseline'],
      template: 'mmlu_fork_late',
      scoring: { mode: 'generate_fork', max_tokens: 1, temperature: 0.5, top_p: 0.9 },
      model: { backend: 'openai', model: 'x' },
      output: { dir: outDir },
    }) as MmluSpec;
    const store = new SqliteStore(join(spec.outDir, 'results.sqlite'));
    await store.saveRun({ run: spec.run, task: 'mmlu', specHash: spec.specHash, spec, totalCells: 12 });
    const r = await mmluTask.stages[0]!.runBatch({ spec, backend: async () => scripted, store }, { group: 'abstract_algebra', start: 0, end: 4 });
    expect(r).toEqual({ cells: 12, discarded: 0 });
    const cells = await collect(store.streamCells(spec.run));
    const byPersona = (p: string) => cells.filter((c) => c.persona === p);
    expect(byPersona('abstract algebra expert').every((c) => c.prediction === 1 && c.method === 'generate_fork')).toBe(true);
    expect(byPersona('poet').every((c) => c.prediction === 2 && c.method === 'generate_fork_invalid')).toBe(true);
    expect(byPersona('none').every((c) => c.prediction === 2 && c.method === 'generate_fork_invalid')).toBe(true);
    // Labels of abstract_algebra test 0-3 are B, C, D, B (the CSV's answer column).
    expect(byPersona('abstract algebra expert').map((c) => c.correct)).toEqual([true, false, false, true]);
    expect(byPersona('poet').map((c) => c.correct)).toEqual([false, true, false, false]);
    const report = await mmluTask.report(spec, store, spec.outDir);
    expect(report.personas?.find((p) => p.persona === 'poet')).toMatchObject({ n: 4, correct: 1, discarded: 0 });
    await store.close();
  });
});
