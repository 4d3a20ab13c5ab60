/** Hydra-style `key=value` overrides: dotted keys, values parsed as YAML (`[a,b]`, `8`, `true`, `"x"`). */
import { parse as parseYaml } from 'yaml';
import { InputError } from './errors.js';

export function applyOverrides(config: unknown, overrides: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = isPlainObject(config) ? structuredClone(config) : {};
  for (const arg of overrides) {
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      throw new InputError('overrides', `"${arg}" is not key=value`, 'write overrides as dotted.key=value, e.g. data.subjects=[abstract_algebra]');
    }
    const path = arg.slice(0, eq).split('.');
    if (path.some((p) => p === '')) {
      throw new InputError('overrides', `"${arg}" has an empty key segment`, 'write keys like data.limit');
    }
    let value: unknown;
    try {
      value = parseYaml(arg.slice(eq + 1));
    } catch (err) {
      throw new InputError(arg.slice(0, eq), `value of "${arg}" is not valid YAML (${(err as Error).message})`, 'quote the value');
    }
    let node = root;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (!isPlainObject(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value ?? '';
  }
  return root;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
