/**
 * The shared read-only data beside the package (PACKAGE_ROOT/../shared) and its golden vectors (spec/golden): the one
 * way tests locate them. ROLYPLAY_GOLDEN overrides the golden folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../experiment/load.js';

export const SHARED = resolve(PACKAGE_ROOT, '..', 'shared');
export const GOLDEN = process.env.ROLYPLAY_GOLDEN ?? join(SHARED, 'spec', 'golden');

export function goldenPath(name: string): string {
  return join(GOLDEN, name);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function golden<T = any>(name: string): T {
  return JSON.parse(readFileSync(goldenPath(name), 'utf8')) as T;
}

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
