/**
 * CPU time of processes, read from Linux's /proc, so a benchmark can say where a machine's
 * cores went during a run (which process took them), not only what the throughput was.
 * Elsewhere (no /proc) every reading is null and the benchmarks leave the column blank.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** User + system CPU time, in clock ticks. */
  readonly ticks: number;
}

/** Parses /proc/<pid>/stat; `comm` may hold spaces and parentheses, so split after the last `)`. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5): ppid is field 4, utime 14, stime 15.
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function stat(pid: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone, or no /proc
  }
}

/** Every live process below `root` (children, their children, ...). */
export function descendants(root: number): ProcStat[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
  const all = pids.map(stat).filter((s): s is ProcStat => s !== null);
  const below = new Set([root]);
  const found: ProcStat[] = [];
  // Parents may have larger pids than their children (pids wrap), so repeat until stable.
  for (let grew = true; grew;) {
    grew = false;
    for (const s of all) {
      if (!below.has(s.pid) && below.has(s.ppid)) {
        below.add(s.pid);
        found.push(s);
        grew = true;
      }
    }
  }
  return found;
}

/** CPU seconds used so far by each of `pids` that is alive (pid -> seconds). */
export function cpuSeconds(pids: readonly number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    const s = stat(pid);
    if (s !== null) seconds.set(pid, s.ticks / clockTicks());
  }
  return seconds;
}

/** CPU seconds each pid used between two readings; pids missing from either are left out. */
export function cpuUsedBetween(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  pids: readonly number[],
): number | null {
  let total = 0;
  let seen = false;
  for (const pid of pids) {
    const a = before.get(pid);
    const b = after.get(pid);
    if (a === undefined || b === undefined) continue;
    total += b - a;
    seen = true;
  }
  return seen ? total : null;
}
