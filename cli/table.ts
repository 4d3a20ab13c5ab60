import Table from 'cli-table3';
import type { PersonaSummary } from '../workflows/types.js';

export function personaTable(rows: PersonaSummary[]): string {
  const t = new Table({ head: ['persona', 'n', 'correct', 'accuracy', 'discarded'], colAligns: ['left', 'right', 'right', 'right', 'right'] });
  for (const r of rows) t.push([r.persona, r.n, r.correct, r.accuracy === null ? '-' : r.accuracy.toFixed(3), r.discarded]);
  return t.toString();
}

export function printPersonaTable(rows: PersonaSummary[]): void {
  process.stdout.write(personaTable(rows) + '\n');
}
