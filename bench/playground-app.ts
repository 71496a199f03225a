/**
 * The playground's server for bench/playground.ts, in a process of its own as `npm start` runs
 * it (and because Next.js cannot be started twice in one process): startApp with one node on a
 * free port, the dashboard unless `--no-dashboard`. Prints one ready line, then a `scraped` line
 * each time the monitor reads the node; SIGTERM or SIGINT stops the app and its node.
 *   tsx bench/playground-app.ts [--no-dashboard]
 */
import { startApp } from '../server/app.ts';

const app = await startApp({
  port: 0,
  nodePort: 0,
  nodes: 1,
  dashboard: !process.argv.includes('--no-dashboard'),
});
const node = app.playground.supervisor.list()[0]!;
app.playground.monitor.subscribe((sample) => {
  const read = sample.nodes[0];
  if (read?.status === 'up' && read.scrapeError === null) process.stdout.write('scraped\n');
});
process.stdout.write(`playground on ${app.url} node ${node.url} pid ${node.pid}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void app.close().then(() => process.exit(0));
  });
}
