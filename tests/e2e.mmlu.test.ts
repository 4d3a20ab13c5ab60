/**
 * (a) End to end on the real dev server and a real HTTP OpenAI-compatible server: 2 subjects × 8 questions ×
 * 3 personas + baseline, in logits and generate mode. Results and metrics must be exact.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { fakeServerAndWorker, mmluConfig, tmpDir } from './support/harness.js';
import { expectedCorrect, mmluPolicy, readQuestions } from './support/mmluPolicy.js';

const questions = [...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)];
const PERSONAS = ['abstract algebra expert', 'anatomy expert', 'poet', 'none'];

const env = fakeServerAndWorker(mmluPolicy(questions));

describe.each(['logits', 'generate'] as const)('MMLU end to end, %s mode', (mode) => {
  it('stores one exact result per cell and writes exact metrics', async () => {
    const outDir = tmpDir();
    const result = await env.h.run({ config: mmluConfig({ baseURL: env.fake.baseURL, taskQueue: env.h.taskQueue, outDir, name: `e2e-${mode}`, mode }) });

    expect(result.totalCells).toBe(16 * 4);
    expect(result.cells).toBe(16 * 4);
    for (const persona of PERSONAS) {
      const exp = expectedCorrect(questions, persona, mode);
      const got = result.personas.find((p) => p.persona === persona);
      expect(got, persona).toMatchObject({ n: exp.n, correct: exp.correct, discarded: exp.discarded });
    }
    // The experts are right on every question of their own subject and answer A elsewhere.
    const metrics = JSON.parse(readFileSync(join(outDir, `e2e-${mode}`, 'metrics.json'), 'utf8'));
    const algebraExpert = metrics.per_persona_subject.find((m: { persona: string; subject: string }) => m.persona === 'abstract algebra expert' && m.subject === 'abstract_algebra');
    expect(algebraExpert).toMatchObject({ n: 8, correct: 8, accuracy: 1 });
    const subjectRow = metrics.expert_analysis.subjects.find((s: { subject: string }) => s.subject === 'anatomy');
    expect(subjectRow.task_expert.accuracy).toBe(1);
    const labelsA = questions.filter((q) => q.subject === 'anatomy' && q.label === 'A').length;
    expect(subjectRow.non_domain_experts.accuracy).toBeCloseTo(labelsA / 8, 12);

    const rows = parse(readFileSync(result.files.resultsCsv, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(64);
    expect(new Set(rows.map((r) => `${r.persona}|${r.item}`)).size).toBe(64);
    const poet = rows.filter((r) => r.persona === 'poet');
    if (mode === 'generate') {
      expect(poet.every((r) => r.discarded === '1' && r.attempts === '11' && r.method === 'generate')).toBe(true);
    } else {
      expect(rows.every((r) => r.method === 'top_logprobs' && r.logprob_A !== '')).toBe(true);
    }
  });
});
