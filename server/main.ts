/**
 * `npm start`: the playground. Builds the dashboard when needed, then serves it and the
 * control plane at http://127.0.0.1:3000 with a local cluster of real `tinycache node`
 * processes. PORT and HOST override the address (API.md §4), NODES the number of nodes started
 * (2 by default), NODE_PORT where they listen (7001, 7002, ... when free; 0: any free port);
 * `--dev` runs Next.js in development mode. Ctrl-C stops everything.
 */
import { startApp } from './app.ts';
import { ensureBuild } from './dashboard.ts';

const dev = process.argv.includes('--dev');
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const nodes = Number(process.env.NODES ?? 2);
const nodePort = Number(process.env.NODE_PORT ?? 7001);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, 0 to 65535 (got ${process.env.PORT}).`);
  process.exit(2);
}
if (!Number.isInteger(nodePort) || nodePort < 0 || nodePort > 65535 - 16) {
  console.error(`NODE_PORT must be a port number (got ${process.env.NODE_PORT}).`);
  process.exit(2);
}
if (!Number.isInteger(nodes) || nodes < 0 || nodes > 16) {
  console.error(`NODES must be a whole number from 0 to 16 (got ${process.env.NODES}).`);
  process.exit(2);
}

const started = performance.now();
if (!dev) await ensureBuild((line) => console.log(line));
let app;
try {
  app = await startApp({ host, port, nodes, nodePort, dev });
} catch (error) {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    console.error(`Port ${port} is in use; try PORT=${port + 1} npm start.`);
    process.exit(1);
  }
  throw error;
}
const { url, playground } = app;
const list = playground.supervisor
  .list()
  .map((node) => `  ${node.id}  ${node.url}  (pid ${node.pid})`)
  .join('\n');
console.log(`
TinyCache playground: ${url}   (ready in ${((performance.now() - started) / 1000).toFixed(1)} s)

Nodes (REST, API.md §2):
${list || '  none yet; start one from the dashboard'}

Try:   curl ${playground.supervisor.list()[0]?.url ?? 'http://127.0.0.1:7001'}/v1/stats
API:   ${url}/api/trpc/cluster.state   ${url}/api/prometheus/targets
Ctrl-C stops the dashboard and every node it started.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the nodes and the dashboard`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void app.close().then(() => process.exit(0));
  });
}
