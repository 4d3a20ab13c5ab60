/**
 * The suite's PostgreSQL (tests/support/globalSetup.ts). A test that needs it fails when there is none under CI
 * (CI must test both stores) and is skipped with the reason elsewhere.
 */
import { describe, inject, it } from 'vitest';

export function postgresUrl(): string {
  return inject('postgresUrl');
}

/** `describe` for tests that need PostgreSQL. */
export function describePostgres(name: string, fn: () => void): void {
  if (inject('postgresUrl')) return describe(name, fn);
  const missing = inject('postgresMissing');
  if (process.env.CI) {
    describe(name, () => {
      it('has a PostgreSQL to test against', () => {
        throw new Error(missing);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${missing})`, fn);
  }
}
