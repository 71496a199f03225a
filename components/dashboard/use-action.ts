'use client';
/**
 * A button's action: while it runs the button is disabled, and when it fails the message is
 * kept to show beside it (a refused request says what to do).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from '../trpc.ts';

export interface Action<A extends unknown[]> {
  /** Runs the action unless one is already running; resolves once it settles, never rejects. */
  readonly run: (...args: A) => Promise<void>;
  readonly pending: boolean;
  readonly error: string | null;
  readonly clearError: () => void;
}

export function useAction<A extends unknown[]>(
  action: (...args: A) => Promise<unknown>,
): Action<A> {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = useRef(false);
  const latest = useRef(action);
  useEffect(() => {
    latest.current = action;
  });

  const run = useCallback(async (...args: A) => {
    if (running.current) return;
    running.current = true;
    setPending(true);
    setError(null);
    try {
      await latest.current(...args);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      running.current = false;
      setPending(false);
    }
  }, []);
  const clearError = useCallback(() => setError(null), []);
  return { run, pending, error, clearError };
}
