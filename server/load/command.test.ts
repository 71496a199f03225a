import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../cli-args.ts';
import { parseBenchArgs, runBenchCommand, type BenchIo } from './command.ts';
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

  it.each([
    [
      '--rate=-5',
      /^--rate: expected requests per second from 0\.01 to 10000000, such as 2000 or 0\.5 \(got "-5"\)$/,
    ],
    ['--rate=0', /^--rate: expected requests per second from 0\.01 .*\(got "0"\)$/],
    ['--zipf-s=-1', /^--zipf-s: expected a number from 0 to 10 \(got "-1"\)$/],
    ['--connections=-2', /^--connections: expected a whole number from 1 .*\(got "-2"\)$/],
    ['--read-ratio=-0.1', /^--read-ratio: expected a number from 0 to 1 \(got "-0\.1"\)$/],
  ])('refuses the negative number in %s with one line that names the range', (arg, message) => {
    expect(() => parseBenchArgs([arg])).toThrow(UsageError);
    expect(() => parseBenchArgs([arg])).toThrow(message);
  });

  it('takes a fractional rate such as 0.5 (one request every 2 s) as it is', () => {
    const parsed = parseBenchArgs(['--rate', '0.5']);
    expect(parsed !== 'help' && parsed.options).toMatchObject({ mode: 'open', rate: 0.5 });
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
    expect(table).toContain('Prefill     50 of 50 keys stored');
    expect(table).toMatch(/Transfer {4}.+ received, .+ sent \(by this client\)/);
    expect(io.err.join('')).not.toContain('prefill');
  });

  it('warns at once on stderr, and in the JSON, when prefill writes fail', async () => {
    fixture = await startFixture({ maxValueBytes: 1024 });
    const io = capture();
    const argv = ['--url', fixture.url, '-d', '0.3', '--keys', '10', '--prefill'];
    expect(await runBenchCommand([...argv, '--value-bytes', '2KiB', '--json'], io)).toBe(0);
    expect(io.err.join('')).toBe(
      'bench: prefill: WARNING: 0 of 10 keys stored; 10 failed (413 value_too_large: 10)\n',
    );
    const result = JSON.parse(io.out.join('')) as LoadResult;
    expect(result.prefill).toEqual({
      keys: 10,
      stored: 0,
      failed: 10,
      failures: { '413 value_too_large': 10 },
    });
    expect(result.requests).toBeGreaterThan(0); // the load ran anyway
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
    expect(result.options.rate).toBe(100);
  });
});
