/** Synthetic MMLU cells and specs for the reduce and report tests. */
import type { MmluSpec } from '../../tasks/mmlu/config.js';
import type { CellResult } from '../../store/results.js';

export function fakeCell(persona: string, subject: string, index: number, correct: boolean | null): CellResult {
  return {
    run: 'r', task: 'mmlu', persona, item: `${subject}/test/${index}`, sample: 0, subject, itemIndex: index, label: 0,
    promptHash: 'h', method: 'logits', logprobs: null, absent: [], prediction: correct === null ? null : correct ? 0 : 1,
    correct, discarded: correct === null, rawText: null, attempts: 1, backend: 'test',
  };
}

export function fakeSpec(personas: string[], subjects: string[], neutral: string[] = []): MmluSpec {
  return {
    run: 'r', task: 'mmlu', personas, groups: { neutral }, data: { path: '/nowhere', split: 'test', subjects },
    template: { name: 'mmlu_paper' }, format: 'plain', scoring: { mode: 'logits' }, model: { backend: 'openai', model: 'm' },
  } as unknown as MmluSpec;
}
