/** Registers our search attributes on a cluster that lacks them (the dev server gets them at start). */
import type { Connection } from '@temporalio/client';
// A CommonJS package: Node's ESM loader cannot see its named exports, so take the namespace from the default export.
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';

const { temporal } = proto;

const TYPES = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, TYPES[type]])),
  });
}
