/**
 * `tinycache bench`: a load generator in the manner of wrk, hey and vegeta, against a node, a
 * cluster or any HTTP server (`--path`). Parses options, runs startLoad, shows progress on
 * stderr and prints the result table (or JSON) on stdout.
 */
import {
  badOption,
  bytesOption,
  choiceOption,
  durationOption,
  numberOption,
  parseOptions,
  PROCESS_IO,
  UsageError,
  type CommandIo,
} from '../cli-args.ts';
import {
  checkLoadOptions,
  DEFAULT_LOAD_OPTIONS,
  LOAD_DISTRIBUTIONS,
  LOAD_LIMITS,
  startLoad,
  type LoadOptions,
  type LoadSnapshot,
  type PrefillOutcome,
} from './load.ts';
import { describePrefill, formatProgress, formatResultTable } from './report.ts';

export const BENCH_USAGE = `Usage: tinycache bench [options]

Drives GET/PUT /v1/keys/{key} against a TinyCache node (or GET of one path against any
HTTP server) and prints throughput, latency percentiles, hit rate and errors.

  --url URL             target (default ${DEFAULT_LOAD_OPTIONS.url})
  --path PATH           GET this path only (e.g. / for a bare HTTP server), no keys
  -c, --connections N   closed model: connections (default ${DEFAULT_LOAD_OPTIONS.connections});
                        open model: the most connections to use (default 64)
  -r, --rate R          open model: R requests/s (0.5: one every 2 s), latency measured
                        from each request's intended send time (coordinated omission
                        corrected, as wrk2); "send lag" shows how much of it is this
                        client's own lateness in sending (timers, a busy event loop)
  -d, --duration D      how long to measure: 10, 10s, 500ms, 2m (default 10s)
  -w, --warmup D        load before measuring, not counted (default none)
  --keys N              key space key-00000000 .. (default ${DEFAULT_LOAD_OPTIONS.keys})
  --dist uniform|zipf   key popularity (default ${DEFAULT_LOAD_OPTIONS.distribution})
  --zipf-s S            Zipf exponent (default ${DEFAULT_LOAD_OPTIONS.zipfS})
  --read-ratio F        share of GETs, 0..1 (default ${DEFAULT_LOAD_OPTIONS.readRatio})
  --value-bytes SIZE    PUT body size: 64, 1KiB, 1MiB (default ${DEFAULT_LOAD_OPTIONS.valueBytes})
  --compressible        PUT JSON text (compressible) instead of random bytes
  --prefill             write every key once before the load, so GETs can hit; writes
                        that fail are reported (the load still runs)
  --prefill-keys N      write only keys 0..N-1 before the load
  --timeout D           a request unanswered this long is a timeout error (default 10s)
  --seed N              seed of the key and value streams (default ${DEFAULT_LOAD_OPTIONS.seed})
  --json                print the result as JSON (latencies in ms) instead of a table
  -h, --help            show this help
`;

const OPEN_MODEL_CONNECTIONS = 64;
/** The lowest --rate: one request every 100 s. */
const MIN_RATE = 0.01;
const LOG_PROGRESS_EVERY_SECONDS = 5;

export type BenchIo = CommandIo;

/** Parses `tinycache bench` options; throws UsageError naming a bad option. */
export function parseBenchArgs(argv: string[]): { options: LoadOptions; json: boolean } | 'help' {
  const { values } = parseOptions(argv, {
    url: { type: 'string' },
    path: { type: 'string' },
    connections: { type: 'string', short: 'c' },
    rate: { type: 'string', short: 'r' },
    duration: { type: 'string', short: 'd' },
    warmup: { type: 'string', short: 'w' },
    keys: { type: 'string' },
    dist: { type: 'string' },
    'zipf-s': { type: 'string' },
    'read-ratio': { type: 'string' },
    'value-bytes': { type: 'string' },
    compressible: { type: 'boolean' },
    prefill: { type: 'boolean' },
    'prefill-keys': { type: 'string' },
    timeout: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const d = DEFAULT_LOAD_OPTIONS;
  const open = values.rate !== undefined;
  const keys =
    values.keys === undefined
      ? d.keys
      : numberOption('keys', values.keys, { min: 1, max: 2 ** 32, integer: true });
  const { connections, rate, valueBytes, zipfS } = LOAD_LIMITS;
  const options: LoadOptions = {
    url: values.url ?? d.url,
    path: values.path ?? null,
    mode: open ? 'open' : 'closed',
    connections:
      values.connections === undefined
        ? open
          ? OPEN_MODEL_CONNECTIONS
          : d.connections
        : numberOption('connections', values.connections, { ...connections, integer: true }),
    rate: values.rate === undefined ? d.rate : rateOption(values.rate, rate.max),
    durationSeconds:
      values.duration === undefined
        ? d.durationSeconds
        : durationOption('duration', values.duration),
    warmupSeconds:
      values.warmup === undefined || /^0+(\.0+)?(ms|s|m)?$/.test(values.warmup)
        ? 0
        : durationOption('warmup', values.warmup),
    readRatio:
      values['read-ratio'] === undefined
        ? d.readRatio
        : numberOption('read-ratio', values['read-ratio'], { min: 0, max: 1 }),
    keys,
    distribution:
      values.dist === undefined
        ? d.distribution
        : choiceOption('dist', values.dist, LOAD_DISTRIBUTIONS),
    zipfS:
      values['zipf-s'] === undefined ? d.zipfS : numberOption('zipf-s', values['zipf-s'], zipfS),
    valueBytes:
      values['value-bytes'] === undefined
        ? d.valueBytes
        : bytesOption('value-bytes', values['value-bytes']),
    compressible: values.compressible ?? false,
    prefillKeys:
      values['prefill-keys'] !== undefined
        ? numberOption('prefill-keys', values['prefill-keys'], { min: 0, max: keys, integer: true })
        : values.prefill
          ? keys
          : 0,
    seed:
      values.seed === undefined
        ? d.seed
        : numberOption('seed', values.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
    timeoutMs:
      values.timeout === undefined ? d.timeoutMs : durationOption('timeout', values.timeout) * 1000,

    sessions: null,
  };
  if (options.valueBytes > valueBytes.max) {
    badOption('value-bytes', `a size up to ${valueBytes.max} bytes`, values['value-bytes']);
  }
  if (options.path !== null && !options.path.startsWith('/')) {
    badOption('path', 'a path starting with /', options.path);
  }
  try {
    checkLoadOptions(options);
  } catch (error) {
    if (error instanceof RangeError && /^url /.test(error.message)) {
      badOption('url', 'an http:// URL such as http://127.0.0.1:7001', options.url);
    }
    // Every other refusal of the options names its field: a usage error, not a crash.
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  return { options, json: values.json ?? false };
}

function rateOption(text: string, max: number): number {
  const value = Number(text);
  if (!(text.trim() !== '' && value >= MIN_RATE && value <= max)) {
    badOption('rate', `requests per second from ${MIN_RATE} to ${max}, such as 2000 or 0.5`, text);
  }
  return value;
}

/** `tinycache bench …`; returns the exit code (1 when the target never answered). */
export async function runBenchCommand(argv: string[], io: BenchIo = PROCESS_IO): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (parsed === 'help') {
    io.stdout.write(BENCH_USAGE);
    return 0;
  }
  const { options, json } = parsed;
  const tty = io.stderr.isTTY === true;
  let lastLogged = 0;
  const onProgress = (snapshot: LoadSnapshot) => {
    if (tty) {
      io.stderr.write(`\r\x1b[2K${formatProgress(snapshot, 24)}`);
    } else if (snapshot.elapsedSeconds - lastLogged >= LOG_PROGRESS_EVERY_SECONDS) {
      lastLogged = snapshot.elapsedSeconds;
      io.stderr.write(`bench: ${formatProgress(snapshot, 0)}\n`);
    }
  };

  const onPrefillDone = (prefill: PrefillOutcome) => {
    // At once and on stderr, so it is seen with --json and during a long run.
    if (prefill.failed === 0) return;
    io.stderr.write(`${tty ? '\r\x1b[2K' : ''}bench: prefill: ${describePrefill(prefill)}\n`);
  };

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const handle = startLoad(options, { onProgress, onPrefillDone, signal: controller.signal });
    const result = await handle.done;
    if (tty) io.stderr.write('\r\x1b[2K');
    io.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatResultTable(result));
    return result.requests === 0 && result.errorCount > 0 ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
