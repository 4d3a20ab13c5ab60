/**
 * A deterministic "model" for the fake OpenAI server: the expert of a question's subject answers correctly,
 * everyone else answers A, and the persona "poet" never gives a bare letter in generate mode. The expected
 * metrics follow from the labels in the CSV files, read here independently of the code under test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Policy } from './fakeOpenAI.js';
import { MMLU_DATA } from './harness.js';

export interface Question {
  subject: string;
  index: number;
  question: string;
  label: string;
}

export function readQuestions(subject: string, limit: number): Question[] {
  const rows = parse(readFileSync(join(MMLU_DATA, 'test', `${subject}_test.csv`), 'utf8')) as string[][];
  return rows.slice(0, limit).map((r, index) => ({ subject, index, question: r[0] as string, label: r[5] as string }));
}

const EXPERT_OF: Record<string, string> = { abstract_algebra: 'abstract algebra expert', anatomy: 'anatomy expert' };

export function personaOf(prompt: string): string {
  return /If you were a (.*), which answer would you choose\?/.exec(prompt)?.[1] ?? 'none';
}

export function answerFor(questions: Question[], prompt: string): string {
  const q = questions.find((x) => prompt.includes(`Question: ${x.question}\nA: `));
  if (!q) throw new Error(`policy: unknown question in prompt ${prompt.slice(0, 120)}`);
  return EXPERT_OF[q.subject] === personaOf(prompt) ? q.label : 'A';
}

export function mmluPolicy(questions: Question[]): Policy {
  return (req) => {
    const prompt = String(req.messages.at(-1)?.content ?? '');
    if (prompt === 'ping') return { content: 'ok' };
    const letter = answerFor(questions, prompt);
    if (!req.logprobs && personaOf(prompt) === 'poet') return { content: 'Perhaps the answer is ' + letter };
    const logprobs: Record<string, number> = { A: -3, B: -3.5, C: -4, D: -4.5, ' ': -6 };
    logprobs[letter] = -0.05;
    return { content: letter, logprobs };
  };
}

/** Expected per-persona correct counts, computed from the labels only. */
export function expectedCorrect(questions: Question[], persona: string, mode: 'logits' | 'generate'): { n: number; correct: number; discarded: number } {
  if (mode === 'generate' && persona === 'poet') return { n: 0, correct: 0, discarded: questions.length };
  const correct = questions.filter((q) => (EXPERT_OF[q.subject] === persona ? true : q.label === 'A')).length;
  return { n: questions.length, correct, discarded: 0 };
}
