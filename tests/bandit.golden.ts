/** Loads the shared golden vectors (SPEC §7). GOLDEN_DIR overrides the default checkout layout. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = process.env.GOLDEN_DIR ?? fileURLToPath(new URL('../../shared/spec/golden/', import.meta.url));

export function golden<T = any>(name: string): T {
  return JSON.parse(readFileSync(`${dir.replace(/\/?$/, '/')}${name}`, 'utf8')) as T;
}

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
