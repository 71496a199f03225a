/**
 * The dashboard's Next.js build: made on the first `npm start` of a fresh clone (and whenever
 * its sources change), reused otherwise, so later starts take seconds.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(ROOT, '.next', 'tinycache-sources');
/** What the build is made from: the app, what it imports (/sim bundles sim/), and how. */
const SOURCES = [
  'app',
  'components',
  'core',
  'server',
  'sim',
  'next.config.js',
  'package-lock.json',
];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

/** A hash of every source file's path and content. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of SOURCES.flatMap((source) => files(join(ROOT, source)))) {
    if (file.endsWith('.test.ts')) continue;
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** True when `.next` holds a production build of the current sources. */
export function buildIsCurrent(hash = sourceHash()): boolean {
  return (
    existsSync(join(ROOT, '.next', 'BUILD_ID')) &&
    existsSync(STAMP) &&
    readFileSync(STAMP, 'utf8') === hash
  );
}

/**
 * Builds the dashboard unless the build is current. `log` gets one line per step of
 * Next.js's own output, so a long first build shows its progress.
 */
export async function ensureBuild(log: (line: string) => void): Promise<'reused' | 'built'> {
  if (buildIsCurrent()) return 'reused';
  // Two starts at once (two terminals, a test beside a user) build one at a time.
  const release = await lock(log);
  try {
    return await build(log);
  } finally {
    release();
  }
}

const LOCK = join(ROOT, '.next-build.lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 10 * 60_000;

async function lock(log: (line: string) => void): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lockedAt = statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (lockedAt === undefined) continue; // released just now
      if (Date.now() - lockedAt > STALE_LOCK_MS) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (!told) log('Another start is building the dashboard; waiting for it...');
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function build(log: (line: string) => void): Promise<'reused' | 'built'> {
  const hash = sourceHash();
  if (buildIsCurrent(hash)) return 'reused';
  log('Building the dashboard (first start, or its sources changed; usually under 30 s)...');
  const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin, 'build'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '') log(`  next build | ${line.trimEnd()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`next build failed with code ${code}:\n${output.slice(-4000)}`));
    });
  });
  writeFileSync(STAMP, hash);
  log(`Dashboard built in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  return 'built';
}
