/** tRPC's building blocks for the control plane, and the rule that mutations are same-origin. */
import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { Playground } from '../control/playground.ts';

export interface Context {
  readonly playground: Playground;
  /**
   * Why this request may not change anything, or null when it may: it came from another
   * site (its `Origin` names one), so a page elsewhere cannot kill nodes.
   */
  readonly crossOrigin: string | null;
}

const t = initTRPC.context<Context>().create({
  // Errors carry their message, never a server stack trace.
  isDev: false,
  // A bad input names its field: "rate: Too small: expected number to be >0".
  errorFormatter: ({ shape, error }) =>
    error.cause instanceof ZodError
      ? {
          ...shape,
          message: error.cause.issues
            .map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`)
            .join('; '),
        }
      : shape,
  sse: {
    // Proxies and browsers drop quiet streams; a comment every 10 s keeps ours open.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 15_000 },
  },
});

export const router = t.router;
export const query = t.procedure;
/** A procedure that changes something: refused unless the request is from the app itself. */
export const mutation = t.procedure.use(({ ctx, next }) => {
  if (ctx.crossOrigin !== null)
    throw new TRPCError({ code: 'FORBIDDEN', message: ctx.crossOrigin });
  return next();
});
