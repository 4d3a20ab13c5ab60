/**
 * Description cleaning against golden/clip_descriptions.json (stop-token cut, manual class-name cascade, html strip,
 * the LLM cleaning prompt) plus the seed's rules that have no golden vector (I-am drops, LLM output handling,
 * start/finish as durable units).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLEANING_STOP,
  CLEANING_TEMPLATE,
  cleanDescription,
  cleanedSentence,
  cleaningPrompt,
  containsClassName,
  enforceStopTokens,
  finishCleaning,
  manualCleaning,
  pyCapitalize,
  removeIAm,
  splitSentences,
  startCleaning,
  stripHtml,
} from '../tasks/vision/clean.js';
import { goldenPath } from './support/golden.js';

const golden = JSON.parse(readFileSync(goldenPath('clip_descriptions.json'), 'utf8')) as {
  stop_token_truncation: { stop: string[]; cases: { generated: string; after_stop: string }[] };
  manual_class_name_cleaning: { text: string; class_name: string; cleaned: string; still_contains_class_name_case_insensitive: boolean }[];
  html_strip: { text: string; stripped: string }[];
  llm_cleaning_prompt: { template: string; example_plain: string; stop: string[] };
};

describe('vision cleaning: golden vectors', () => {
  it('stop-token truncation', () => {
    expect(golden.stop_token_truncation.cases).toHaveLength(3);
    for (const c of golden.stop_token_truncation.cases) expect(enforceStopTokens(c.generated, golden.stop_token_truncation.stop)).toBe(c.after_stop);
  });
  it('manual class-name cleaning', () => {
    expect(golden.manual_class_name_cleaning).toHaveLength(3);
    for (const c of golden.manual_class_name_cleaning) {
      const out = manualCleaning(c.text, c.class_name);
      expect(out).toBe(c.cleaned);
      expect(containsClassName(out, c.class_name)).toBe(c.still_contains_class_name_case_insensitive);
    }
  });
  it('html strip', () => {
    for (const c of golden.html_strip) expect(stripHtml(c.text)).toBe(c.stripped);
  });
  it('LLM cleaning prompt and stops', () => {
    expect(CLEANING_TEMPLATE).toBe(golden.llm_cleaning_prompt.template);
    expect(cleaningPrompt('Black footed Albatross', 'Black footed Albatrosses nest on remote islands.')).toBe(golden.llm_cleaning_prompt.example_plain);
    expect(CLEANING_STOP).toEqual(golden.llm_cleaning_prompt.stop);
  });
});

describe('vision cleaning: seed rules', () => {
  it('the stop split is unanchored and case-sensitive', () => {
    expect(enforceStopTokens('It is found in the USA: mostly west.')).toBe('It is found in the US');
    expect(enforceStopTokens('q: lower case stays. a: too')).toBe('q: lower case stays. a: too');
    expect(enforceStopTokens('no stop at all')).toBe('no stop at all');
  });
  it('Python capitalize lower-cases the rest', () => {
    expect(pyCapitalize('black Footed ALBATROSS')).toBe('Black footed albatross');
    expect(pyCapitalize('')).toBe('');
  });
  it('remove_i_am drops refusals and "If I were a N year old" openers, joins with one space', () => {
    const t = "As an AI language model, I cannot see. If I were a 2-year-old, I'd say birdie! It is a big bird.  It flies.";
    expect(removeIAm(t)).toBe('It is a big bird. It flies.');
    expect(removeIAm("I'm sorry, I do not know. It is red.")).toBe('It is red.');
    expect(removeIAm("I'm sorry I do not know. It is red.")).toBe("I'm sorry I do not know. It is red."); // needs the comma
    // re.match is anchored: the phrase inside a sentence stays.
    expect(removeIAm('Well, if I were a 7 year old I would say it.')).toBe('Well, if I were a 7 year old I would say it.');
    // ":\n\n" becomes a sentence end.
    expect(removeIAm('Here is my answer:\n\nIt is a bird.')).toBe('Here is my answer. It is a bird.');
  });
  it('sentences split on blank lines too, without surrounding whitespace', () => {
    expect(splitSentences('a small bird\n\nIt is big. Really!')).toEqual(['a small bird', 'It is big.', 'Really!']);
    expect(splitSentences('')).toEqual([]);
  });
  it('LLM output: cut at the first stop (leftmost), stripped, kept only without the class name', () => {
    const cn = 'Black footed Albatross';
    expect(cleanedSentence('orig', ' They nest on remote islands.\n\nSentence: more', cn)).toBe('They nest on remote islands.');
    expect(cleanedSentence('orig', ' It nests.\nCleaned Sentence: x', cn)).toBe('It nests.');
    expect(cleanedSentence('orig', 'The black footed albatross nests.', cn)).toBe('orig');
  });
});

describe('vision cleaning: start/finish as durable units', () => {
  const cn = 'Black footed Albatross';
  it('no class name: done at once, html stripped', () => {
    const s = startCleaning('a <b>big</b> seabird. Q: next', cn);
    expect(s).toMatchObject({ done: true, text: 'a big seabird.' });
  });
  it('manual pass suffices: done, no LLM call', () => {
    const s = startCleaning('The Black footed Albatross is big.', cn);
    expect(s).toMatchObject({ done: true, text: 'It is big.' });
  });
  it('one pending call per offending sentence; state round-trips through JSON; outputs applied in order', () => {
    const raw = 'It glides far. Black footed Albatrosses nest on islands. I like the black footed albatross <i>a lot</i>. A: x';
    const s = startCleaning(raw, cn);
    expect(s.done).toBe(false);
    if (s.done) return;
    expect(s.pending.map((p) => p.index)).toEqual([1, 2]);
    expect(s.pending[0]!.prompt).toBe(cleaningPrompt(cn, 'Black footed Albatrosses nest on islands.'));
    const state = JSON.parse(JSON.stringify(s.state));
    // First output good, second still names the class: the original second sentence is kept (then html-stripped).
    expect(finishCleaning(state, [' They nest on islands.\n\nSentence: junk', 'I like the Black footed Albatross.'])).toBe(
      'It glides far. They nest on islands. I like the black footed albatross a lot.',
    );
    expect(() => finishCleaning(state, ['one'])).toThrow(/1 LLM outputs for 2 pending/);
  });
  it('cleanDescription with a synchronous cleaner equals start + finish', () => {
    let calls = 0;
    const out = cleanDescription('Black footed Albatrosses nest here.', cn, () => {
      calls++;
      return ' They nest here.';
    });
    expect(out).toBe('They nest here.');
    expect(calls).toBe(1);
  });
});
