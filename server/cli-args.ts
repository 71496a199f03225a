/**
 * Shared pieces of the `tinycache` command's option parsing. A bad option exits with status 2
 * and one line that names the option and the accepted form (API.md §1).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseBytes } from '../core/config.ts';

export class UsageError extends Error {}

/** Where a command writes: the process's streams, or a test's capture. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

export const PROCESS_IO: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/** Throws UsageError naming the option; `cli.ts` prints it as one line and exits 2. */
export function badOption(option: string, accepted: string, got?: string): never {
  const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
  throw new UsageError(`--${option}: expected ${accepted}${shown}`);
}

/**
 * node:util parseArgs in strict mode, with its errors turned into one-line UsageErrors that
 * name the option. A negative number after an option (`--rate -5`) is taken as its value, so
 * that the range check can say what is wrong with it.
 */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
) {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--')
      ? arg.slice(2)
      : /^-[a-zA-Z]$/.test(arg)
        ? Object.keys(options).find((long) => options[long]?.short === arg[1])
        : undefined;
    if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      /^-(\d|\.\d)/.test(next)
    ) {
      args.push(`--${name}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const option = /'(--?[^' ]+)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
      throw new UsageError(`${option}: unknown option (--help lists them)`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
      throw new UsageError(
        /missing/.test(message)
          ? `${option}: needs a value, e.g. ${option} VALUE`
          : `${option}: takes no value`,
      );
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(`${message.split('\n')[0] ?? message} (--help lists the options)`);
    }
    throw new UsageError(message.split('\n')[0] ?? message);
  }
}

export function bytesOption(option: string, text: string): number {
  const bytes = parseBytes(text);
  if (bytes === undefined) {
    badOption(option, 'a whole number of bytes or a size such as 512KiB, 64MiB or 2GiB', text);
  }
  return bytes;
}

export function numberOption(
  option: string,
  text: string,
  { min = -Infinity, max = Infinity, integer = false } = {},
): number {
  const value = Number(text);
  const valid =
    text.trim() !== '' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!valid) {
    const kind = integer ? 'a whole number' : 'a number';
    const range =
      max === Infinity ? (min === -Infinity ? '' : ` >= ${min}`) : ` from ${min} to ${max}`;
    badOption(option, `${kind}${range}`, text);
  }
  return value;
}

export function choiceOption<C extends string>(
  option: string,
  text: string,
  choices: readonly C[],
): C {
  if (!(choices as readonly string[]).includes(text))
    badOption(option, `one of ${choices.join(', ')}`, text);
  return text as C;
}

/** Parses a duration: `10` (seconds), `10s`, `500ms`, `2m`. Returns seconds. */
export function durationOption(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) badOption(option, 'a duration such as 10, 10s, 500ms or 2m', text);
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  const seconds = unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : n;
  if (!(seconds > 0)) badOption(option, 'a duration above zero', text);
  return seconds;
}
