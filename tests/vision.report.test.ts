/** Vision report figures rendered to SVG from a synthetic metrics.json: one mark per persona, contrast and cut persona. */
import { describe, expect, it } from 'vitest';
import { visionSections } from '../report/vision.js';
import { visionMetrics } from '../tasks/vision/metrics.js';

/** Data marks drawn by the layer `name` of the figure `id`: the leaf paths of its group (as tests/report.test.ts). */
function marksIn(html: string, id: string, name: string): number {
  const fig = html.slice(html.indexOf(`data-figure="${id}"`));
  const svg = fig.slice(0, fig.indexOf('</figure>'));
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>(.*?)</g>`, 'g'))];
  return groups.reduce((s, g) => s + (g[1]!.match(/<(path|line|rect|text)\b/g)?.length ?? 0), 0);
}

describe('vision report', () => {
  const k = 8;
  const labels = Array.from({ length: 40 }, (_, i) => i % k);
  const persona = (good: number) => labels.map((l, i) => ((i * 7 + good) % 10 < good ? l : (l + 1) % k));
  const predictions = { man: persona(6), woman: persona(4), ornithologist: persona(8), 'car mechanic': persona(3), none: persona(5), class_name: persona(7) };
  const truncated = { man: [true, false, false, false, false, false, false, false], woman: new Array(k).fill(false), ornithologist: [true, true, true, false, false, false, false, false] };
  const m = visionMetrics({ classNames: Array.from({ length: k }, (_, i) => `class ${i}`), labels, predictions, truncated }, { resamples: 200 });

  it('renders every figure to SVG with the expected marks, and the tables', async () => {
    const { figures, sections } = await visionSections(m);
    const html = sections.map((s) => s.html).join('');
    expect(figures.map((f) => f.id)).toEqual(['vision-persona-accuracy', 'vision-contrasts', 'vision-cut-fraction']);
    expect(marksIn(html, 'vision-persona-accuracy', 'acc')).toBe(6);
    expect(marksIn(html, 'vision-persona-accuracy', 'acc_ci')).toBe(6);
    // 2 bias pairs + 4 vs none + 5 vs class_name.
    expect(m.contrasts).toHaveLength(11);
    expect(marksIn(html, 'vision-contrasts', 'contrast')).toBe(11);
    expect(marksIn(html, 'vision-cut-fraction', 'cut')).toBe(3); // man, woman (0, a zero-width bar), ornithologist
    for (const f of figures) for (const [name, n] of Object.entries(f.marks)) expect(marksIn(html, f.id, name), `${f.id}/${name}`).toBe(n);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('ornithologist − car mechanic');
    expect(html).toMatch(/0\.375 \(3\)/); // ornithologist: 3 of 8 classes cut
  });

  it('without truncation flags or contrasts the figures are left out, not empty', async () => {
    const bare = visionMetrics({ classNames: ['a', 'b'], labels: [0, 1], predictions: { poet: [0, 0] } }, { resamples: 50 });
    const { figures, sections } = await visionSections(bare);
    expect(figures.map((f) => f.id)).toEqual(['vision-persona-accuracy']);
    expect(sections.map((s) => s.id)).toEqual(['vision-personas', 'vision-contrasts']);
    expect(sections[1]!.html).toContain('No contrasts');
  });
});
