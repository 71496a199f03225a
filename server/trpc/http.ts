/**
 * The control plane over HTTP: tRPC at `/api/trpc` and Prometheus service discovery at
 * `/api/prometheus/targets` (API.md §4). Only requests addressed to this machine are served
 * (a `Host` naming another site is how DNS rebinding reaches a local port), and only requests
 * from the app's own origin may change anything.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Playground } from '../control/playground.ts';
import { appRouter } from './router.ts';

export const TRPC_PATH = '/api/trpc';
export const TARGETS_PATH = '/api/prometheus/targets';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host name of a `Host` header, without its port; lower case. */
function hostName(host: string): string {
  return host.replace(/:\d+$/, '').toLowerCase();
}

/**
 * Why a request may not change anything (null: it may): its `Origin` or `Sec-Fetch-Site`
 * says another site sent it. Scripts that send no `Origin` (curl, Node) are served.
 */
export function crossOriginReason(req: IncomingMessage): string | null {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
    return `Requests from ${origin} may not change this cluster; use the dashboard itself.`;
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    return 'Requests from another site may not change this cluster.';
  }
  return null;
}

export interface ApiHandlerOptions {
  readonly playground: Playground;
  /** The host the server was told to bind to; requests may name it as well as loopback. */
  readonly host: string;
}

/** A request listener for `/api/*`; returns false for any other path, untouched. */
export function createApiHandler({ playground, host }: ApiHandlerOptions) {
  const allowed = new Set(LOOPBACK_NAMES);
  if (host !== '0.0.0.0' && host !== '::') allowed.add(host.includes(':') ? `[${host}]` : host);
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: `${TRPC_PATH}/`,
    createContext: ({ req }) => ({ playground, crossOrigin: crossOriginReason(req) }),
  });

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith('/api/')) return false;
    const name = hostName(req.headers.host ?? '');
    if (!allowed.has(name) && !(host === '0.0.0.0' || host === '::')) {
      sendJson(res, 403, {
        error: 'forbidden_host',
        message: `This control plane answers to ${[...allowed].join(', ')}, not ${name || 'no Host'}.`,
      });
      return true;
    }
    if (path === TARGETS_PATH) {
      sendJson(res, 200, prometheusTargets(playground));
      return true;
    }
    if (path.startsWith(`${TRPC_PATH}/`)) {
      void trpc(req, res);
      return true;
    }
    sendJson(res, 404, { error: 'not_found', message: `No API at ${path}.` });
    return true;
  };
}

/** Prometheus HTTP service discovery: one target group per node that has a port. */
export function prometheusTargets(playground: Playground) {
  return playground.supervisor
    .list()
    .filter((node) => node.port !== 0)
    .map((node) => ({
      targets: [new URL(node.url).host],
      labels: { shard: node.shard ?? '', role: node.role, node: node.id },
    }));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
