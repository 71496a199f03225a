/**
 * A node's tunables (API.md §1 and §2): their defaults, their limits, and the parsing of
 * human sizes. The CLI, `PATCH /v1/config` and the control plane all validate here.
 */
import { fail, ok, type Result } from './errors.ts';

export const POLICIES = ['lru', 'wtinylfu'] as const;
export type PolicyName = (typeof POLICIES)[number];

export interface NodeConfig {
  readonly policy: PolicyName;
  readonly maxMemoryBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  /** 0 turns compression off. */
  readonly compressThresholdBytes: number;
  /** null: keys written without `?ttl=` never expire. */
  readonly defaultTtlSeconds: number | null;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_CONFIG: NodeConfig = {
  policy: 'lru',
  maxMemoryBytes: 64 * MiB,
  maxKeyBytes: 1024,
  maxValueBytes: 1 * MiB,
  compressThresholdBytes: 1 * KiB,
  defaultTtlSeconds: null,
};

/** Explicit bounds: a node refuses a configuration it could not honour. */
export const CONFIG_LIMITS = {
  maxMemoryBytes: { min: 4 * KiB, max: 64 * GiB },
  // Keys travel in the request line; 8 KiB, percent-encoded, still fits the node's header limit.
  maxKeyBytes: { min: 1, max: 8 * KiB },
  maxValueBytes: { min: 1, max: 512 * MiB },
  compressThresholdBytes: { min: 0, max: 512 * MiB },
} as const;

/** The longest TTL, for `?ttl=` and `--default-ttl` alike: ten years is a mistake, not a TTL. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
export const TTL_RULE = `a number of seconds above 0 and at most ${MAX_TTL_SECONDS}, such as 60 or 0.25`;

export function isTtlSeconds(seconds: number): boolean {
  return seconds > 0 && seconds <= MAX_TTL_SECONDS;
}

/** Reads a TTL in plain decimal seconds (`10`, `0.25`, `.5`; no exponents, hex or spaces). */
export function parseTtlSeconds(text: string): number | undefined {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text)) return undefined;
  const seconds = Number(text);
  return isTtlSeconds(seconds) ? seconds : undefined;
}

/** How long a TTL lasts in whole milliseconds, at least one, so an expiry is never now. */
export function ttlMs(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  kb: KiB,
  kib: KiB,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: GiB,
  gb: GiB,
  gib: GiB,
};

/**
 * Parses `1048576`, `512KiB`, `64MiB`, `2GiB`. `64M` and `64MB` are read as MiB too: every
 * unit here is a power of 1024 (unlike Redis, where `1m` is 10^6 and `1mb` is 2^20), since
 * memory limits are what they size. Returns undefined when the text is not a whole number of
 * bytes.
 */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Formats bytes the way people write them: `64MiB`, `1.5KiB`, `512B`. */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= GiB) return `${trim(bytes / GiB)}GiB`;
  if (abs >= MiB) return `${trim(bytes / MiB)}MiB`;
  if (abs >= KiB) return `${trim(bytes / KiB)}KiB`;
  return `${bytes}B`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

const SIZE_FIELDS = [
  'maxMemoryBytes',
  'maxKeyBytes',
  'maxValueBytes',
  'compressThresholdBytes',
] as const;

/**
 * Validates a partial configuration from an untrusted source (JSON, CLI). Unknown fields and
 * wrong types are refused, naming the field, so a typo never passes silently.
 */
export function validateConfigPatch(input: unknown): Result<Partial<NodeConfig>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail(
      'invalid_config',
      'The configuration must be a JSON object, e.g. {"policy":"lru"}.',
    );
  }
  const patch: { -readonly [K in keyof NodeConfig]?: NodeConfig[K] } = {};
  for (const [field, value] of Object.entries(input)) {
    if (field === 'policy') {
      if (!POLICIES.includes(value as PolicyName)) {
        return fail('invalid_config', `policy must be one of ${POLICIES.join(', ')}.`);
      }
      patch.policy = value as PolicyName;
    } else if ((SIZE_FIELDS as readonly string[]).includes(field)) {
      const name = field as (typeof SIZE_FIELDS)[number];
      const { min, max } = CONFIG_LIMITS[name];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        return fail(
          'invalid_config',
          `${name} must be a whole number of bytes from ${min} to ${max}.`,
        );
      }
      patch[name] = value;
    } else if (field === 'defaultTtlSeconds') {
      if (value !== null && (typeof value !== 'number' || !isTtlSeconds(value))) {
        return fail('invalid_config', `defaultTtlSeconds must be null or ${TTL_RULE}.`);
      }
      patch.defaultTtlSeconds = value as number | null;
    } else {
      return fail(
        'invalid_config',
        `Unknown field ${JSON.stringify(field)}; the fields are policy, ${SIZE_FIELDS.join(', ')}, defaultTtlSeconds.`,
      );
    }
  }
  return ok(patch);
}
