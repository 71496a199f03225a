/**
 * Vitest's global setup: one real PostgreSQL for the whole run, DATABASE_URL when it is set,
 * else an embedded one in a temporary folder, removed afterwards. Test files reach it through
 * `inject('databaseUrl')` and make a database of their own (testing.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedDatabase } from './embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && given !== '') {
    project.provide('databaseUrl', given);
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), 'tinycache-pg-'));
  const database = await startEmbeddedDatabase({ dir });
  project.provide('databaseUrl', database.url);
  return async () => {
    await database.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
