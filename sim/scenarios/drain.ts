/**
 * Runs a scenario's scheduler until nothing is queued, in chunks, so a long run can say how
 * far it has come (the CLI draws that on stderr). The chunks are counted in events, not wall
 * time, so reporting progress changes nothing about the run.
 */
import type { Scheduler } from '../scheduler.ts';

/** Told the share of virtual time done, from 0 to 1. */
export type Progress = (doneFraction: number) => void;

/** Events run between two progress reports. */
const CHUNK_EVENTS = 1 << 16;

/**
 * Runs events until none is queued; throws when `maxEvents` ran without draining (a scenario
 * that schedules without end). `endUs` is when the run is expected to end, for progress.
 */
export function drain(
  scheduler: Scheduler,
  maxEvents: number,
  what: string,
  endUs: number,
  onProgress?: Progress,
): void {
  if (onProgress === undefined) {
    scheduler.runUntilIdle(maxEvents);
  } else {
    let left = maxEvents;
    while (scheduler.pending > 0 && left > 0) {
      left -= scheduler.runUntilIdle(Math.min(CHUNK_EVENTS, left));
      onProgress(Math.min(1, scheduler.nowUs / Math.max(1, endUs)));
    }
  }
  if (scheduler.pending > 0) throw new Error(`${what} ran ${maxEvents} events without draining.`);
}
