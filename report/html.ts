/** The report page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched at view time). */
import type { Interval } from '../stats/intervals.js';
import type { Provenance } from './provenance.js';
import { ciText } from '../tasks/numbers.js';

export interface Section {
  id: string;
  title: string;
  html: string;
}

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function num(x: number | null | undefined, signed = false, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${signed && x > 0 ? '+' : ''}${x.toFixed(digits)}`;
}

export function ci(x: Interval | null | undefined): string {
  return ciText(x) ?? '–';
}

export function pval(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

export function table(head: string[], rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null, tag: string) => `<${tag}${typeof v === 'number' ? ' class="n"' : ''}>${esc(v ?? '–')}</${tag}>`;
  return `<table><thead><tr>${head.map((h) => cell(h, 'th')).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('')}</tbody></table>`;
}

export function provenanceSection(p: Provenance): Section {
  const dl = (items: [string, string | null | undefined][]) => `<dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v ?? '–')}</dd>`).join('')}</dl>`;
  const duration = p.times.duration_s === null ? null : `${p.times.duration_s.toFixed(1)} s`;
  return {
    id: 'provenance',
    title: 'Provenance',
    html:
      dl([
        ['run', p.run],
        ['task', p.task],
        ['started', p.times.started],
        ['finished (last result stored)', p.times.finished],
        ['duration', duration],
        ['report written', p.times.reduced],
        ['tool', `${p.tool.name} ${p.tool.version} · Node ${p.tool.node} · ${p.tool.platform}`],
        ['git commit', p.git ? `${p.git.commit}${p.git.dirty ? ' (with uncommitted changes)' : ''}` : 'not a git checkout'],
        ['model', `${p.model.label} (${p.model.backend}: ${p.model.source}${p.model.variant ? `, ${p.model.variant}` : ''})`],
        ['model config', p.model.config ? JSON.stringify(p.model.config) : null],
      ]) +
      (p.model.files.length ? table(['model file', 'bytes', 'sha256'], p.model.files.map((f) => [f.file, f.bytes, f.sha256])) : '') +
      table(['package', 'version'], Object.entries(p.packages).map(([k, v]) => [k, v])) +
      `<details><summary>Effective config (after overrides, as the run resolved it)</summary><pre>${esc(JSON.stringify(p.effective_config, null, 2))}</pre></details>`,
  };
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#cfd8dc}
nav{padding:8px 28px;background:#eceff1}nav a{margin-right:16px;color:#37474f}
main{padding:8px 28px 40px;max-width:1400px}section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:12px 20px;margin:16px 0}
h2{font-size:18px;margin:6px 0 10px}figure{margin:12px 0;overflow-x:auto}figcaption{max-width:900px;margin-bottom:6px;color:#444}
table{border-collapse:collapse;margin:10px 0;font-size:12.5px}th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5}.warning{background:#fff3e0;border:1px solid #ffb74d;padding:8px 12px;border-radius:4px}.headline{font-size:15px;font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#666}dd{margin:0;word-break:break-all}pre{background:#f5f5f5;padding:8px;overflow:auto;max-height:480px;font-size:12px}
details{margin:8px 0}summary{cursor:pointer;color:#37474f}`;

export function page(opts: { title: string; subtitle: string; warnings: string[]; sections: Section[] }): string {
  const nav = opts.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(opts.title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(opts.title)}</h1><p>${esc(opts.subtitle)}</p></header><nav>${nav}</nav><main>
${opts.warnings.map((w) => `<p class="warning" role="alert">${esc(w)}</p>`).join('\n')}
${opts.sections.map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>${s.html}</section>`).join('\n')}
</main></body></html>
`;
}
