/**
 * A real crash: a child process saves entries in a loop and prints each index once its save
 * has resolved (acknowledged); it is killed with SIGKILL mid-stream; reopening the directory
 * must find every acknowledged index, and the term and vote. This is Level 6's "a node killed
 * with SIGKILL and restarted keeps its term, vote and log" (issue 8).
 *
 * SIGKILL ends the process, not the machine: what the page cache held survives it. A power
 * cut would also lose what was written but not fsynced, which is why save() resolves only after
 * fsync; this test cannot pull the plug.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskStorage } from './disk-storage.ts';

const FIXTURE = fileURLToPath(new URL('./disk-storage-crash-fixture.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'tinycache-disk-crash-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await fs.rm(dir, { recursive: true, force: true });
});

/** Runs the fixture until it has acknowledged `count` saves, then SIGKILLs it. */
function runAndKill(count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const acknowledged: number[] = [];
    let pending = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (/^\d+$/.test(line)) acknowledged.push(Number(line));
      if (!killed && acknowledged.length >= count) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`fixture exited ${code}: ${stderr}`));
      // Lines that reached the pipe before the kill were acknowledged too.
      for (const line of pending.split('\n'))
        if (/^\d+$/.test(line)) acknowledged.push(Number(line));
      resolve(acknowledged);
    });
  });
}

async function expectAllThere(acknowledged: readonly number[], term: number): Promise<void> {
  const storage = await DiskStorage.open(dir, { log: () => {} });
  try {
    const max = Math.max(...acknowledged);
    expect(storage.hardState().term).toBe(term);
    expect(storage.hardState().vote).toBe('n1');
    expect(storage.hardState().commit).toBeGreaterThanOrEqual(max);
    expect(storage.lastIndex()).toBeGreaterThanOrEqual(max);
    const missing: number[] = [];
    for (const index of acknowledged) {
      if (index <= storage.snapshot().index) continue;
      const [entry] = storage.entries(index, index + 1);
      if (new TextDecoder().decode(entry?.data) !== `value ${index}`) missing.push(index);
    }
    expect(missing).toEqual([]);
  } finally {
    await storage.close();
  }
}

describe('DiskStorage under SIGKILL', () => {
  it('every save acknowledged before a SIGKILL is there after a restart, with the term and vote, twice over', async () => {
    const first = await runAndKill(1500);
    expect(first.length).toBeGreaterThanOrEqual(1500);
    await expectAllThere(first, 1);
    // The restarted node goes on (in term 2) from where it was, and is killed again.
    const second = await runAndKill(700);
    expect(Math.min(...second)).toBeGreaterThan(Math.max(...first));
    await expectAllThere([...first, ...second], 2);
  });
});
