import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isGone } from '../testing/processes.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded.ts';

describe('the embedded PostgreSQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinycache-embedded-'));
  const started: EmbeddedDatabase[] = [];
  afterAll(async () => {
    for (const db of started) await db.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes over its files from a server an earlier run left running', async () => {
    // Not stopped by the test: the next start must do it.
    const orphan = await startEmbeddedDatabase({ dir, persistent: true });
    const orphanPid = orphan.pid;
    expect(orphanPid).not.toBeNull();
    const lines: string[] = [];
    // As after a SIGKILLed playground: the first server still runs and nobody will stop it.
    const next = await startEmbeddedDatabase({
      dir,
      persistent: true,
      onLog: (l) => lines.push(l),
    });
    started.push(next);
    expect(isGone(orphanPid!)).toBe(true);
    expect(lines.join('\n')).toContain(`stopping PostgreSQL pid ${orphanPid}`);
    expect(next.pid).not.toBe(orphanPid);
    const client = new pg.Client({ connectionString: next.url });
    await client.connect();
    expect((await client.query('select 1 as one')).rows[0]).toEqual({ one: 1 });
    await client.end();
  });
});
