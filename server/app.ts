/**
 * The playground's one process (DESIGN.md, "Processes"): an HTTP server that serves the
 * control plane's API (server/trpc) and, unless told not to, the Next.js dashboard, beside the
 * supervisor and its nodes. Stopping it stops everything it started.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type * as NextServer from 'next/dist/server/next.js';
import type { AddressInfo } from 'node:net';
import type { NodeConfig } from '../core/config.ts';
import { Playground } from './control/playground.ts';
import { ROOT } from './dashboard.ts';
import { createApiHandler } from './trpc/http.ts';

export interface AppOptions {
  /** Nodes started at once, so a new user sees a live cluster (1 by default). */
  readonly nodes?: number;
  readonly config?: Partial<NodeConfig>;
  /** Node i (from 0) listens on nodePort + i when that port is free; 0: any free ports. */
  readonly nodePort?: number;
  readonly host?: string;
  /** 0: any free port. */
  readonly port?: number;
  /** Serve the dashboard (a Next.js build must exist, see dashboard.ts), or the API alone. */
  readonly dashboard?: boolean;
  /** Next.js in development mode (hot reload) instead of the production build. */
  readonly dev?: boolean;
  /** Where the playground keeps files (the embedded PostgreSQL's); `.tinycache/` by default. */
  readonly dataDir?: string;
}

export interface App {
  readonly url: string;
  readonly playground: Playground;
  close(): Promise<void>;
}

/**
 * Listens first, then starts the nodes, so a busy port fails before any child is spawned.
 * Node processes are children of this process: they exit when it dies.
 */
export async function startApp(options: AppOptions = {}): Promise<App> {
  const host = options.host ?? '127.0.0.1';
  const nextHandler = options.dashboard === false ? null : await loadNext(options, host);
  const playground = new Playground(options.dataDir ?? join(ROOT, '.tinycache'));
  const api = createApiHandler({ playground, host });
  const server = createServer((req, res) => {
    if (api(req, res)) return;
    if (nextHandler === null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('The dashboard is not served here.');
      return;
    }
    void nextHandler.handle(req, res);
  });
  if (nextHandler?.upgrade !== undefined) server.on('upgrade', nextHandler.upgrade);
  // The SSE stream stays open for as long as a page does.
  server.requestTimeout = 0;
  try {
    await listen(server, host, options.port ?? 3000);
    const { nodePort = 0 } = options;
    for (let i = 0; i < (options.nodes ?? 1); i++) {
      await playground.supervisor.start(options.config, nodePort === 0 ? 0 : nodePort + i);
    }
  } catch (error) {
    await playground.close();
    server.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`,
    playground,
    close: () =>
      (closing ??= (async () => {
        server.closeAllConnections();
        await Promise.all([
          new Promise<void>((resolve) => server.close(() => resolve())),
          playground.close(),
          nextHandler?.close(),
        ]);
      })()),
  };
}

interface NextHandler {
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  close: () => Promise<void>;
}

async function loadNext(options: AppOptions, host: string): Promise<NextHandler> {
  // next is CommonJS: its function is the module itself, typed as the default export.
  const next = (await import('next')).default as unknown as typeof NextServer.default.default;
  const app = next({
    dev: options.dev === true,
    dir: ROOT,
    hostname: host,
    port: options.port ?? 3000,
  });
  await app.prepare();
  const handle = app.getRequestHandler();
  return {
    handle: (req, res) => handle(req, res),
    upgrade: options.dev === true ? app.getUpgradeHandler() : undefined,
    close: () => app.close(),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
