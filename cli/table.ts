import Table from 'cli-table3';
import type { ReportTable } from '../tasks/types.js';

export function formatTable(table: ReportTable): string {
  const t = new Table({
    head: table.columns,
    colAligns: table.columns.map((_, i) => (i === 0 ? 'left' : 'right')),
    // One line per persona: 60+ personas with separators between rows would not fit a screen.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    // No colour codes when the output is a file or a pipe.
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  for (const r of table.rows) t.push(r.map((v) => (v === null ? '-' : v)));
  return t.toString();
}

export function printTable(table: ReportTable): void {
  process.stdout.write(formatTable(table) + '\n');
}
