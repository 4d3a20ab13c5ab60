/**
 * Cleaning of the raw LLM descriptions, in the seed's order (VISION.md §3, clip_dotf_module.py L229–355):
 *
 * 1. `enforceStopTokens(raw, ["Q:","A:"])`: langchain's `re.split("|".join(stop), text)[0]`, unanchored and
 *    case-sensitive, so `"…in the USA: …"` is cut to `"…in the US"` (faithful).
 * 2. `removeIAm`: `":\n\n"` → `". "`, sentence split, drop refusal / "If I were a N year old" sentences, join with " ".
 * 3. Class-name removal, only if the class name (case-insensitively) occurs: the manual `str.replace` cascade, then,
 *    if still present, one LLM call per sentence that contains it (the seed's few-shot prompt), the output cut at
 *    `["Sentence:","Cleaned Sentence:","\n\n"]` and stripped, kept only if the class name is gone.
 * 4. `stripHtml`: `re.sub("<[^<]+?>", "", d)`.
 *
 * Each LLM cleaning call is its own durable unit: `startCleaning` runs steps 1–3a and either finishes or returns the
 * pending prompts plus a JSON-serialisable state; the caller runs those prompts (as activities, with their own
 * seeds) and `finishCleaning(state, outputs)` runs 3b and 4. Both are pure.
 *
 * **Deviation: the sentence splitter.** The seed uses spaCy `en_core_web_sm` (unpinned, 3.*), whose parser-based
 * boundaries cannot be reproduced in TypeScript. We use `@stdlib/nlp-sentencize` (rule-based: splits after . ! ?
 * followed by whitespace, with abbreviation, ellipsis-free and number handling; part of the stdlib family the
 * statistics already use, Apache-2.0, maintained, deterministic, no model files), after first splitting on blank
 * lines (spaCy nearly always starts a new sentence after "\n\n"). Whitespace never changes CLIP ids, so the
 * splitter only matters where a sentence is dropped in step 2 or sent to the LLM in step 3b; there a boundary that
 * spaCy would place differently can drop or clean a different span. Known differences: sentencize does not split
 * after an ellipsis ("I love it... It is big" is one sentence) nor inside a line without terminal punctuation.
 * Python's `str.lower()` is JS `toLowerCase()` here; they differ only on a few non-ASCII letters (e.g. "İ").
 */
import sentencize from '@stdlib/nlp-sentencize';
import { pythonStrip } from '../../prompts/formats.js';
import { formatTemplate } from '../mmlu/prompts.js';
import { SEED_STOP } from './prompts.js';

/** Stops of the LLM cleaning call (`chain.run(..., stop=[...])`, M L340). */
export const CLEANING_STOP: readonly string[] = ['Sentence:', 'Cleaned Sentence:', '\n\n'];

/** The seed's few-shot cleaning prompt (M L304–319), verbatim, including the typo "Clean Sentence:" in example 4. */
export const CLEANING_TEMPLATE =
  'Replace the concept "{class_name}" from the following sentence by replacing it with indirect references / pronouns.\n\n' +
  'Sentence: The american Crow runs quickly through the forest.\nCleaned Sentence: It runs quickly through the forest.\n\n' +
  'Sentence: Warblers are small animals.\nCleaned Sentence: They are small animals.\n\n' +
  'Sentence: I like listening to nighthawks when I got to bed.\nCleaned Sentence: I like listening to them when I got to bed.\n\n' +
  'Sentence: Unfortunately, the population of sparrows has been declining.\nClean Sentence: Unfortunately, their population has been declining.\n\n' +
  'Sentence: {desc}\nCleaned Sentence:';

/**
 * langchain `enforce_stop_tokens`: `re.split("|".join(stop), text)[0]`. The stops are joined *unescaped*, as in the
 * seed (none of its stops holds a regex metacharacter); the first match anywhere cuts, even inside a word.
 */
export function enforceStopTokens(text: string, stop: readonly string[] = SEED_STOP): string {
  if (stop.length === 0) return text;
  const re = new RegExp(stop.join('|'), 'u');
  const m = re.exec(text);
  return m ? text.slice(0, m.index) : text;
}

/** Sentences as spaCy's `sent.text` would give them (no surrounding whitespace); see the module note. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n[^\S\n]*\n\s*/u)) {
    for (const s of sentencize(para)) {
      const t = pythonStrip(s);
      if (t !== '') out.push(t);
    }
  }
  return out;
}

const I_AM_SUBSTRINGS = ['language model', 'i can provide you', "i'm sorry,"];
const I_AM_PREFIX = /^if i were a \p{Nd}+?[- ]year[- ]old/u;

/** Whether `_remove_i_am` drops this sentence (lower-cased substring tests and the anchored `re.match`). */
export function isIAmSentence(sentence: string): boolean {
  const low = sentence.toLowerCase();
  return I_AM_SUBSTRINGS.some((s) => low.includes(s)) || I_AM_PREFIX.test(low);
}

/** `_remove_i_am` (M L241–262). */
export function removeIAm(text: string): string {
  const t = text.replaceAll(':\n\n', '. ');
  return splitSentences(t)
    .filter((s) => !isIAmSentence(s))
    .join(' ');
}

/** `_contains_class_name` (M L264–265): case-insensitive substring. */
export function containsClassName(text: string, className: string): boolean {
  return text.toLowerCase().includes(className.toLowerCase());
}

/** Python `str.capitalize()`: first character upper-cased, the rest lower-cased. */
export function pyCapitalize(s: string): string {
  const [first, ...rest] = [...s];
  return first === undefined ? '' : first.toUpperCase() + rest.join('').toLowerCase();
}

/** `_manual_cleaning` (M L278–298): the literal `str.replace` cascade; artefacts like "the It has" are kept. */
export function manualCleaning(text: string, className: string): string {
  const rep = (s: string, from: string, to: string) => s.replaceAll(from, () => to);
  for (const trafo of [(x: string) => x, (x: string) => x.toLowerCase(), pyCapitalize]) {
    const cn = trafo(className);
    for (const verb of ['is', 'has', 'plays', 'feeds']) {
      text = rep(text, `The ${cn} ${verb}`, `It ${verb}`);
      text = rep(text, `A ${cn} ${verb}`, `It ${verb}`);
      text = rep(text, `An ${cn} ${verb}`, `It ${verb}`);
      text = rep(text, `${cn} ${verb}`, `It ${verb}`);
    }
    for (const verb of ['are', 'can', 'play', 'feed']) {
      text = rep(text, `${cn}es ${verb}`, `They ${verb}`);
      text = rep(text, `${cn}s ${verb}`, `They ${verb}`);
      text = rep(text, `${cn} ${verb}`, `They ${verb}`);
    }
    text = rep(text, `It is called a ${cn} because it`, 'It');
    text = rep(text, `It is called the ${cn} because it`, 'It');
    text = rep(text, `It is called ${cn} because it`, 'It');
  }
  return text;
}

/** `re.sub("<[^<]+?>", "", d)`: also eats `"< 6 and 7 >"`-like spans. */
export function stripHtml(text: string): string {
  return text.replace(/<[^<]+?>/gsu, '');
}

/** The plain (unwrapped) few-shot cleaning prompt for one sentence. */
export function cleaningPrompt(className: string, sentence: string): string {
  return formatTemplate(CLEANING_TEMPLATE, { class_name: className, desc: sentence });
}

/** One LLM cleaning call: `index` is the sentence's position, which also names its durable unit (`clean#index`). */
export interface PendingClean {
  index: number;
  sentence: string;
  /** Plain prompt; wrap it with `renderPrompt(format, prompt)` like the description prompt. */
  prompt: string;
}

/** What `finishCleaning` needs; plain JSON, so it can be a workflow value or be stored with the cell. */
export interface CleaningState {
  className: string;
  /** Sentences of the text after the manual pass. */
  sentences: string[];
  /** Indices into `sentences` that await an LLM output, in order. */
  pending: number[];
}

/** The intermediate texts, for the run's records (the seed stores only the raw text as `<class>_uncleaned`). */
export interface CleaningTrace {
  afterStop: string;
  afterIAm: string;
  /** Absent when the class name did not occur after step 2. */
  afterManual?: string;
}

export type CleaningStart =
  | { done: true; text: string; trace: CleaningTrace }
  | { done: false; pending: PendingClean[]; state: CleaningState; trace: CleaningTrace };

/** Steps 1–3a; `stop` is the description stop list (the seed's ["Q:","A:"] by default). */
export function startCleaning(raw: string, className: string, stop: readonly string[] = SEED_STOP): CleaningStart {
  const afterStop = enforceStopTokens(raw, stop);
  const afterIAm = removeIAm(afterStop);
  if (!containsClassName(afterIAm, className)) return { done: true, text: stripHtml(afterIAm), trace: { afterStop, afterIAm } };
  const afterManual = manualCleaning(afterIAm, className);
  const trace = { afterStop, afterIAm, afterManual };
  if (!containsClassName(afterManual, className)) return { done: true, text: stripHtml(afterManual), trace };
  const sentences = splitSentences(afterManual);
  const pending = sentences.flatMap((s, i) => (containsClassName(s, className) ? [i] : []));
  if (pending.length === 0) {
    // The name spans a sentence boundary: no sentence holds it, so the seed's loop makes no call and re-joins.
    return { done: true, text: stripHtml(sentences.join(' ')), trace };
  }
  return {
    done: false,
    pending: pending.map((index) => ({ index, sentence: sentences[index]!, prompt: cleaningPrompt(className, sentences[index]!) })),
    state: { className, sentences, pending },
    trace,
  };
}

/** The seed's treatment of one cleaning output: cut at the stops, `.strip()`, keep only if the name is gone. */
export function cleanedSentence(original: string, output: string, className: string): string {
  const cleaned = pythonStrip(enforceStopTokens(output, CLEANING_STOP));
  return containsClassName(cleaned, className) ? original : cleaned;
}

/** Steps 3b (with the LLM outputs of `pending`, in order) and 4. */
export function finishCleaning(state: CleaningState, outputs: readonly string[]): string {
  if (outputs.length !== state.pending.length) {
    throw new Error(`finishCleaning got ${outputs.length} LLM outputs for ${state.pending.length} pending sentences of "${state.className}"`);
  }
  const sents = [...state.sentences];
  state.pending.forEach((i, k) => {
    sents[i] = cleanedSentence(state.sentences[i]!, outputs[k]!, state.className);
  });
  return stripHtml(sents.join(' '));
}

/** The whole cleaning with a synchronous cleaner (tests, scripts); engines use start/finish. */
export function cleanDescription(raw: string, className: string, llm: (prompt: string, p: PendingClean) => string, stop: readonly string[] = SEED_STOP): string {
  const s = startCleaning(raw, className, stop);
  return s.done ? s.text : finishCleaning(s.state, s.pending.map((p) => llm(p.prompt, p)));
}
