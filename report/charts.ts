/**
 * Figures: Vega-Lite specs compiled by vega-lite and rendered to SVG strings by vega's headless View
 * (`renderer: 'none'`, `toSVG()`), so a report needs neither a canvas package nor a browser to be written, and its
 * figures are plain inline SVG that a browser shows with no script and no network. Vega-Lite was chosen over
 * hand-drawn SVG for its scales, axes, legends and layout, and over Observable Plot because it renders headless in
 * Node without a DOM shim.
 *
 * Each layer that draws data has a `name`; vega gives its SVG group the class `<name>_marks`, which is how the
 * browser tests count a figure's marks.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type VegaLiteSpec = TopLevelSpec;

/** One rendered figure. `marks` maps a layer name to the number of data marks it must draw (checked in tests). */
export interface Figure {
  id: string;
  title: string;
  caption: string;
  svg: string;
  marks: Record<string, number>;
}

const CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  view: { stroke: null },
} as const;

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function figure(id: string, title: string, caption: string, spec: VegaLiteSpec, marks: Record<string, number>): Promise<Figure> {
  return { id, title, caption, svg: await renderSvg(spec), marks };
}
