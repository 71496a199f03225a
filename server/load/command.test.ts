import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../cli-args.ts';
import { runBenchCommand, type BenchIo } from './command.ts';
import { startFixture, type Fixture } from './kv-fixture.ts';
import type { LoadResult } from './load.ts';

function capture(): BenchIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY: false },
  };
}

let fixture: Fixture | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

describe('tinycache bench', () => {
  it.each([
    [['-c', '0'], '--connections'],
    [['--connections', 'many'], '--connections'],
    [['--rate', '-1'], '--rate'],
    [['--duration', 'soon'], '--duration'],
    [['--warmup', 'a while'], '--warmup'],
    [['--dist', 'pareto'], '--dist'],
    [['--zipf-s', '11'], '--zipf-s'],
    [['--read-ratio', '1.5'], '--read-ratio'],
    [['--keys', '0'], '--keys'],
    [['--value-bytes', 'lots'], '--value-bytes'],
    [['--prefill-keys', '20000'], '--prefill-keys'],
    [['--url', 'https://example.com'], '--url'],
    [['--path', 'no-slash'], '--path'],
    [['--seed', '-3'], '--seed'],
    [['--bogus'], '--bogus'],
  ])('refuses %j with a UsageError naming %s', async (argv, option) => {
    const io = capture();
    const failure = runBenchCommand(argv, io);
    await expect(failure).rejects.toThrow(UsageError);
    await expect(failure).rejects.toThrow(option);
  });

  it('prints its usage for --help and exits 0', async () => {
    const io = capture();
    expect(await runBenchCommand(['--help'], io)).toBe(0);
    expect(io.out.join('')).toContain('Usage: tinycache bench');
  });

  it('prints a table of throughput, latency percentiles, hit rate and errors', async () => {
    fixture = await startFixture();
    const io = capture();
    const code = await runBenchCommand(
      ['--url', fixture.url, '-c', '2', '-d', '300ms', '--keys', '50', '--prefill'],
      io,
    );
    expect(code).toBe(0);
    const table = io.out.join('');
    for (const label of ['Target', 'Model', 'Requests', 'p99.9', 'Hit rate', 'Errors']) {
      expect(table).toContain(label);
    }
    expect(table).toContain('closed, 2 connections');
    expect(table).toContain('50 keys prefilled');
  });

  it('prints the result as JSON with --json, latencies in ms', async () => {
    fixture = await startFixture();
    const io = capture();
    const argv = ['--url', fixture.url, '--rate', '100', '-d', '0.3', '--path', '/', '--json'];
    expect(await runBenchCommand(argv, io)).toBe(0);
    const result = JSON.parse(io.out.join('')) as LoadResult;
    expect(result.mode).toBe('open');
    expect(result.rate).toBe(100);
    expect(result.connections).toBe(64);
    expect(result.requests).toBeGreaterThan(10);
    expect(result.latencyMs?.p99).toBeGreaterThan(0);
  });
});
