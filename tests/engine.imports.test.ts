/**
 * The engine knows no task: nothing under experiment/, activities/, workflows/, store/ or backends/ imports from
 * tasks/<name>/ (the shared tasks/types.ts, tasks/batch.ts and tasks/api.ts are the engine's task interface).
 * Adding a task therefore touches no engine file.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../experiment/load.js';

const ENGINE = ['experiment', 'activities', 'workflows', 'store', 'backends'];
const TASKS = join(PACKAGE_ROOT, 'tasks');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier of a file: static imports and exports, `import type`, and dynamic `import('…')`. */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The task folder (tasks/<name>/) a relative specifier of `file` lands in, if any. */
function taskFolderOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const rel = relative(TASKS, resolve(dirname(file), spec));
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

describe('engine imports', () => {
  it('finds every kind of import (so the rule below can fail)', () => {
    const src = "import { a } from '../tasks/mmlu/a.js';\nimport type { B } from \"../tasks/bandit/b.js\";\nexport * from '../tasks/x/c.js';\nimport '../tasks/y/d.js';\nconst m = await import('../tasks/z/e.js');";
    const file = join(PACKAGE_ROOT, 'experiment', 'load.ts');
    expect(specifiers(src).map((s) => taskFolderOf(file, s))).toEqual(['mmlu', 'bandit', 'x', 'y', 'z']);
    expect(taskFolderOf(file, '../tasks/types.js')).toBeUndefined();
  });

  it('experiment/, activities/, workflows/, store/ and backends/ import nothing from tasks/<name>/', () => {
    const offenders = ENGINE.flatMap((d) => tsFiles(join(PACKAGE_ROOT, d))).flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .filter((s) => taskFolderOf(file, s) !== undefined)
        .map((s) => `${relative(PACKAGE_ROOT, file)} imports ${s}`),
    );
    expect(offenders).toEqual([]);
  });
});
