import Table from 'cli-table3';
import type { PersonaSummary } from '../workflows/types.js';

export function personaTable(rows: PersonaSummary[]): string {
  const t = new Table({
    head: ['persona', 'n', 'correct', 'accuracy', 'discarded'],
    colAligns: ['left', 'right', 'right', 'right', 'right'],
    // One line per persona: 60+ personas with separators between rows would not fit a screen.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    // No colour codes when the output is a file or a pipe.
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  for (const r of rows) t.push([r.persona, r.n, r.correct, r.accuracy === null ? '-' : r.accuracy.toFixed(3), r.discarded]);
  return t.toString();
}

export function printPersonaTable(rows: PersonaSummary[]): void {
  process.stdout.write(personaTable(rows) + '\n');
}
