/**
 * `npm start`. Until the dashboard lands (the playground issue), it starts one local cache
 * node and shows how to talk to it. The node binds to 127.0.0.1; HOST and NODE_PORT override.
 */
import { DEFAULT_CONFIG } from '../core/config.ts';
import { describeConfig } from './node/command.ts';
import { type CacheNode, startNode } from './node/server.ts';

const host = process.env.HOST ?? '127.0.0.1';
const preferredPort = Number(process.env.NODE_PORT ?? 7001);

async function start(): Promise<CacheNode> {
  try {
    return await startNode({ host, port: preferredPort, config: DEFAULT_CONFIG });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    console.log(`Port ${preferredPort} is busy; using a free one.`);
    return startNode({ host, port: 0, config: DEFAULT_CONFIG });
  }
}

const node = await start();
const url = node.url;
console.log(`
TinyCache node running at ${url}  (${describeConfig(node.config())})

Try it:
  curl -i -X PUT ${url}/v1/keys/greeting -H 'Content-Type: application/json' -d '{"hello":"world"}'
  curl -i ${url}/v1/keys/greeting
  curl -i -X PUT '${url}/v1/keys/session?ttl=30' -H 'Content-Type: text/plain' -d 'expires in 30 s'
  curl ${url}/v1/stats
  curl ${url}/metrics
  npx tinycache bench --url ${url} --duration 10s

Ctrl-C stops it.
`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the node`);
    void node.close().then(() => process.exit(0));
  });
}
