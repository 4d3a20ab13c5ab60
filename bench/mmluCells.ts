/**
 * The MMLU persona cells the local-inference benches score (bench/local.ts for speed, bench/agreement.ts for
 * int8/w8/fp32 agreement): the paper template (configs/templates/mmlu_paper.yaml), the 57 expert personas
 * (configs/personas/mmlu_experts.yaml), each question's personas in config order, rendered in `format`
 * (chat_template: no system message, the persona stays in the question, as configs/mmlu-demo.yaml).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PACKAGE_ROOT } from '../experiment/load.js';
import type { OptionScoreRequest } from '../backends/types.js';
import { formatPrompt, type PromptFormat } from '../prompts/formats.js';
import { loadSubject } from '../tasks/mmlu/data.js';
import { renderMmluPrompt } from '../tasks/mmlu/prompts.js';

export interface MmluCellsOptions {
  /** Hendrycks MMLU folder (dev/, test/, val/). */
  data: string;
  subjects: string[];
  /** The first `questions` test questions of each subject. */
  questions: number;
  /** The first `personas` of mmlu_experts.yaml. */
  personas: number;
  format: PromptFormat;
}

export interface MmluCell {
  subject: string;
  question: number;
  persona: string;
  /** Index of the right answer in A..D. */
  label: number;
  request: OptionScoreRequest;
}

export function mmluPersonaCells(opts: MmluCellsOptions): MmluCell[] {
  const template = parseYaml(readFileSync(path.join(PACKAGE_ROOT, 'configs/templates/mmlu_paper.yaml'), 'utf8'));
  const personas = (parseYaml(readFileSync(path.join(PACKAGE_ROOT, 'configs/personas/mmlu_experts.yaml'), 'utf8'))
    .personas as string[]).slice(0, opts.personas);
  return opts.subjects.flatMap((subject) =>
    loadSubject(opts.data, subject, 'test')
      .slice(0, opts.questions)
      .flatMap((item) =>
        personas.map((persona) => {
          const user = renderMmluPrompt({ name: template.name, separator: template.separator, text: template.text }, item, persona);
          const prompt = { user, text: formatPrompt(opts.format, { user }) };
          return { subject, question: item.index, persona, label: item.label, request: { prompt, options: ['A', 'B', 'C', 'D'] } };
        }),
      ),
  );
}
