/**
 * Test fixture (supervisor.integration.test.ts): a supervisor's process that starts one node,
 * prints the node's pid and then waits to be killed, so the test can check the node outlives
 * its parent by a moment only.
 */
import { Supervisor } from './supervisor.ts';

const node = await new Supervisor().start();
process.stdout.write(`${node.pid}\n`);
setInterval(() => {}, 60_000);
