/**
 * The anchor for HTTP benchmarks: a bare node:http server that reads any request's body and
 * answers a fixed 64-byte body. A TinyCache GET hit can at best match it.
 *   tsx bench/bare-server.ts [port]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from('x'.repeat(64));
const port = Number(process.argv[2] ?? 0);

const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', '64']);
    res.end(BODY);
  });
});
server.listen(port, '127.0.0.1', () => {
  const { port: chosen } = server.address() as AddressInfo;
  process.stdout.write(`bare server listening on http://127.0.0.1:${chosen}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
