/**
 * The dashboard in a real Chromium, against real node processes: what a new user does first.
 */
import { expect, test } from '@playwright/test';
import { isGone } from '../server/testing/processes.ts';
import { baseUrl, clusterState, figure, mutate, nodeState, screenshot } from './support.ts';

test.describe.configure({ mode: 'serial' });

test.afterAll(async () => {
  // Leave the cluster as a user would find it: no load, default memory.
  await mutate('load.stop').catch(() => undefined);
});

test('shows the live cluster, a card per node', async ({ page }) => {
  await page.goto(baseUrl());
  for (const id of ['n1', 'n2']) {
    const card = page.getByTestId(`node-card-${id}`);
    await expect(card).toHaveAttribute('data-status', 'up');
    const { pid } = await nodeState(id);
    await expect(page.getByTestId(`node-pid-${id}`)).toContainText(String(pid));
  }
});

test('starting load makes the throughput chart show requests within seconds', async ({ page }) => {
  await page.goto(baseUrl());
  await page.getByLabel('Rate (req/s)').fill('2000');
  await page.getByRole('button', { name: 'Start load' }).click();
  await expect
    .poll(async () => figure(await page.getByTestId('throughput-value').textContent()), {
      timeout: 10_000,
    })
    .toBeGreaterThan(100);
  await expect(page.getByRole('button', { name: 'Stop load' })).toBeVisible();
  // Let the charts fill a little before the picture.
  await page.waitForTimeout(4000);
  await screenshot(page, 'dashboard-under-load');
});

test('killing a node from its card marks it down, and its process is gone', async ({ page }) => {
  await page.goto(baseUrl());
  const before = await nodeState('n2');
  expect(before.pid).not.toBeNull();
  const card = page.getByTestId('node-card-n2');
  await card.getByRole('button', { name: 'Kill' }).click();
  await expect(card).toHaveAttribute('data-status', 'down');
  expect(isGone(before.pid!)).toBe(true);
  await screenshot(page, 'dashboard-node-killed');

  await card.getByRole('button', { name: 'Restart' }).click();
  await expect(card).toHaveAttribute('data-status', 'up');
  const after = await nodeState('n2');
  expect(after.pid).not.toBe(before.pid);
  expect(isGone(after.pid!)).toBe(false);
  await expect(page.getByTestId('node-pid-n2')).toContainText(String(after.pid));
});

test('pausing a node shows it paused, and resuming brings it back', async ({ page }) => {
  await page.goto(baseUrl());
  const card = page.getByTestId('node-card-n1');
  await card.getByRole('button', { name: 'Pause' }).click();
  await expect(card).toHaveAttribute('data-status', 'paused');
  await card.getByRole('button', { name: 'Resume' }).click();
  await expect(card).toHaveAttribute('data-status', 'up');
});

test('lowering a node’s memory limit makes evictions rise', async ({ page }) => {
  await page.goto(baseUrl());
  // 20,000 keys of 256 B need about 12 MiB; 1 MiB holds a few thousand of them.
  await mutate('load.start', { rate: 2000, keys: 20_000, distribution: 'uniform', readRatio: 0.5 });
  await page.getByLabel('Node', { exact: true }).selectOption('n1');
  await page.getByLabel('Memory limit').fill('1MiB');
  await page.getByRole('button', { name: 'Apply config' }).click();
  await expect
    // The first eviction needs about 1 MiB written to n1: seconds at 2,000 req/s, more on a
    // busy 2-core machine.
    .poll(async () => figure(await page.getByTestId('evictions-value').textContent()), {
      timeout: 30_000,
    })
    .toBeGreaterThan(0);
  const n1 = await nodeState('n1');
  const config = (await (await fetch(`${n1.url}/v1/config`)).json()) as { maxMemoryBytes: number };
  expect(config.maxMemoryBytes).toBe(1024 * 1024);
  await screenshot(page, 'dashboard-evictions');
  await mutate('config.set', { id: 'n1', patch: { maxMemoryBytes: 64 * 1024 * 1024 } });
});

test('the REST console sends a request to a node and shows it as curl', async ({ page }) => {
  await page.goto(baseUrl());
  await page.getByLabel('Method').selectOption('PUT');
  await page.getByLabel('Key').fill('greeting');
  await page.getByLabel('Value').fill('{"hello":"world"}');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('rest-status')).toContainText('201');
  await expect(page.getByTestId('rest-curl')).toContainText('curl');
  await expect(page.getByTestId('rest-curl')).toContainText('/v1/keys/greeting');
  await page.getByLabel('Method').selectOption('GET');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('rest-status')).toContainText('200');
  await expect(page.getByTestId('rest-body')).toContainText('"hello":"world"');
});

test('the PostgreSQL panel starts a write-through node, draws its read path, and stops the database', async ({
  page,
}) => {
  await page.goto(baseUrl());
  const panel = page.getByTestId('database');
  const before = new Set((await clusterState()).nodes.map((n) => n.id));
  await panel.getByRole('button', { name: 'Add write-through node' }).click();
  await expect(page.getByTestId('database-state')).toContainText('Running on :', {
    timeout: 30_000,
  });
  const added = (await clusterState()).nodes.find((n) => !before.has(n.id));
  expect(added).toBeDefined();
  const card = page.getByTestId(`node-card-${added!.id}`);
  await expect(card).toHaveAttribute('data-status', 'up');
  await expect(card).toContainText('Writes through to PostgreSQL');

  // More keys than 256 KiB holds: hits from memory and misses read through, side by side.
  await mutate('config.set', { id: added!.id, patch: { maxMemoryBytes: 256 * 1024 } });
  await mutate('load.start', { rate: 600, keys: 5000, readRatio: 0.9, distribution: 'zipf' });
  await expect(page.getByText('Read path: memory against PostgreSQL')).toBeVisible();
  for (const id of ['database-memory-p50', 'database-fallback-p50']) {
    await expect
      .poll(async () => figure(await page.getByTestId(id).textContent()), { timeout: 15_000 })
      .toBeGreaterThan(0);
  }
  await page.getByText('Read path: memory against PostgreSQL').scrollIntoViewIfNeeded();
  await page.waitForTimeout(3000);
  await screenshot(page, 'dashboard-read-path');

  await panel.getByRole('button', { name: 'Stop database' }).click();
  await expect(page.getByTestId('database-state')).toHaveAttribute('data-state', 'stopped');
  await panel.getByRole('button', { name: 'Start database' }).click();
  await expect(page.getByTestId('database-state')).toHaveAttribute('data-state', 'running');
  await mutate('load.stop');
  await mutate('node.stop', { id: added!.id });
});

test('adding a shard from the dashboard shows the new node and the redrawn ring', async ({
  page,
}) => {
  // Keys to move, and traffic that goes on while they do.
  await mutate('load.start', { rate: 3000, keys: 4000, readRatio: 0.5, distribution: 'uniform' });
  await page.goto(baseUrl());
  const panel = page.getByTestId('cluster');
  await expect(panel).toContainText('No cluster yet');
  const before = new Set((await clusterState()).nodes.map((n) => n.id));

  // n1 becomes s1 and a new node s2; about half of n1's keys stream to it.
  await panel.getByRole('button', { name: 'Add shard' }).click();
  await expect
    .poll(async () => (await clusterState()).nodes.find((n) => !before.has(n.id))?.id)
    .toBeDefined();
  const added = (await clusterState()).nodes.find((n) => !before.has(n.id))!;
  const card = page.getByTestId(`node-card-${added.id}`);
  await expect(card).toHaveAttribute('data-status', 'up');
  await expect(card).toContainText('shard s2');
  await expect(page.getByTestId('node-card-n1')).toContainText('shard s1');
  const legend = panel.getByRole('list', { name: 'Shards', exact: true });
  await expect(legend.locator('[data-shard]')).toHaveText([/s1/, /s2/]);
  await expect(panel.getByTestId('cluster-move')).toContainText('Last move: s2 added');
  await page
    .getByRole('group', { name: 'Time window' })
    .getByRole('button', { name: '1 min' })
    .click();
  await expect(page.getByLabel('Keys per node')).toContainText(`${added.id} · s2`);
  await page.waitForTimeout(4000);
  await screenshot(page, 'dashboard-cluster');

  // A slow pace, so the drain is seen as it goes: s2's keys go back to s1, then its node
  // stops and leaves the list.
  await panel.getByLabel('Pace (keys/s)').fill('1000');
  await panel.getByRole('button', { name: 'Set pace' }).click();
  await expect(panel).toContainText('copies at most 1,000 keys/s');
  await panel.getByRole('button', { name: 'Remove s2' }).click();
  await expect(panel.getByRole('progressbar', { name: 'Move progress' })).toBeVisible();
  await expect(panel.getByTestId('cluster-move')).toContainText('Draining s2');
  await expect(panel.getByTestId('cluster-move')).toContainText('Last move: s2 removed');
  await expect(card).toHaveCount(0);
  await expect(panel.getByTestId(/^shard-/)).toHaveCount(1);
  await expect(panel.getByRole('button', { name: 'Remove s1' })).toBeDisabled();
  await mutate('cluster.throttle', { keysPerSecond: 50_000 });
  await mutate('load.stop');
});
