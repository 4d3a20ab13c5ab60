/**
 * The vision task's domain pieces composed as the engine's stages will call them, on the toy CUB set with a fake
 * LLM and fake embeddings: describe cells → cleaning calls → records → CLIP texts (golden) → predictions → metrics →
 * report. Checks that every LLM call is a unit with its own id and seed, independent of run order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { visionSections } from '../report/vision.js';
import { loadCub } from '../tasks/vision/data.js';
import { clipText, describeCells, describeRecord, SEED_DESCRIBE_SETTINGS, startCellCleaning, type DescribeSettings } from '../tasks/vision/describe.js';
import { visionMetrics, zeroShotPredict } from '../tasks/vision/metrics.js';
import { goldenPath } from './support/golden.js';

const TOY = join(import.meta.dirname, 'fixtures', 'toy-cub');
const golden = JSON.parse(readFileSync(goldenPath('clip_descriptions.json'), 'utf8')) as {
  clip_text_inputs: { persona: string; description: string; clip_text: string }[];
};

describe('vision pipeline (domain pieces, fake LLM and CLIP)', () => {
  it('CLIP text inputs (golden)', () => {
    for (const g of golden.clip_text_inputs) expect(clipText(g.description)).toBe(g.clip_text);
    expect(clipText('')).toBe('A photo of ');
  });

  it('toy CUB end to end', async () => {
    const ds = loadCub(TOY);
    const personas = ['man', 'woman', 'none', 'class_name'];
    const s: DescribeSettings = { ...SEED_DESCRIBE_SETTINGS, format: 'plain' };
    const cells = describeCells(ds.classNames, personas, s);
    expect(cells).toHaveLength(4 * 5);
    expect(cells.filter((c) => c.prompt === null).map((c) => c.persona)).toEqual(new Array(5).fill('class_name'));
    // Seeds and prompts do not depend on the order cells are planned or run in.
    const again = describeCells([...ds.classNames].reverse(), [...personas].reverse(), s);
    for (const c of cells) expect(again.find((x) => x.id === c.id)).toMatchObject({ seed: c.seed, prompt: c.prompt });

    // Fake LLM: "man" names the class in a sentence the manual pass cannot fix, "woman" rambles past the stop.
    let describeCalls = 0, cleanCalls = 0;
    const llm = (persona: string, className: string) => {
      describeCalls++;
      return persona === 'man' ? `a thing. I once saw a ${className.toLowerCase()} near home. Q: and` : `a ${persona} thing with <b>bold</b> colours. A: more`;
    };
    const records = cells.map((cell) => {
      if (cell.prompt === null) return describeRecord(cell, null, [], s);
      const raw = llm(cell.persona, cell.className);
      const { calls } = startCellCleaning(cell, raw, s);
      if (cell.persona === 'man') {
        expect(calls).toHaveLength(1);
        expect(calls[0]!.id).toBe(`clean#1/man/${cell.className}/r0`);
        expect(calls[0]!.seed).not.toBe(cell.seed);
      } else expect(calls).toEqual([]);
      const outputs = calls.map(() => {
        cleanCalls++;
        return ' I once saw one near home.\n\nSentence: x';
      });
      return describeRecord(cell, raw, outputs, s);
    });
    expect([describeCalls, cleanCalls]).toEqual([15, 5]);
    const byId = new Map(records.map((r) => [`${r.persona}/${r.className}`, r.description]));
    expect(byId.get('man/Tabby Cat')).toBe('a thing. I once saw one near home.');
    expect(byId.get('woman/Tabby Cat')).toBe('a woman thing with bold colours.');
    expect(byId.get('class_name/Horse Silhouette')).toBe('Horse Silhouette');

    // Fake CLIP: a text embeds to its class's axis when it names the class, else to a shared axis (ties → class 0).
    const dim = ds.classNames.length + 1;
    const embedText = (t: string) => {
      const v = new Array(dim).fill(0);
      const c = ds.classNames.findIndex((n) => t.includes(n));
      v[c < 0 ? dim - 1 : c] = 1;
      return v;
    };
    const images = ds.items.map((it) => {
      const v = new Array(dim).fill(0.1);
      v[it.classIndex] = 1;
      return v;
    });
    const predictions = Object.fromEntries(
      personas.map((p) => [p, zeroShotPredict(images, ds.classNames.map((n) => embedText(clipText(byId.get(`${p}/${n}`)!))))]),
    );
    const m = visionMetrics({ classNames: ds.classNames, labels: ds.items.map((i) => i.classIndex), predictions }, { resamples: 200 });
    expect(m.personas.class_name!.accuracy).toBe(1);
    expect(m.personas.man!.accuracy).toBeCloseTo(3 / 15, 12); // all texts alike: every image goes to class 0
    expect(m.contrasts.find((c) => c.a === 'man' && c.b === 'class_name')!.mcnemar).toMatchObject({ only_a: 0, only_b: 12 });
    const { figures } = await visionSections(m);
    expect(figures.length).toBeGreaterThanOrEqual(2);
  });
});
