/**
 * Level 6 in the dashboard, in a real Chromium against real node processes: the playground
 * left by the earlier files (a Level 5 cluster) is dissolved from the dashboard, a replicated
 * cluster (2 shards × 3 replicas) is made there, and a shard's leader is killed under load:
 * another replica leads in a later term, the failover is listed with its time, and the
 * acknowledged-writes-lost count is 0 under the load ("—" once it stops). Then the dead
 * replica is replaced from the dashboard: a new one joins as a follower, nothing is lost.
 */
import { expect, test } from '@playwright/test';
import { baseUrl, mutate, screenshot } from './support.ts';

test.describe.configure({ mode: 'serial' });

test.afterAll(async () => {
  await mutate('load.stop').catch(() => undefined);
});

interface Replica {
  id: string;
  shard: string | null;
  role: string;
  term: number | null;
  status: string;
}

async function replicas(): Promise<{ nodes: Replica[]; epoch: number; replicated?: boolean }> {
  const res = await fetch(`${baseUrl()}/api/trpc/cluster.state`);
  const { result } = (await res.json()) as {
    result: { data: { nodes: Replica[]; epoch: number; replicated?: boolean } };
  };
  return result.data;
}

test('kill a shard leader from the dashboard: a new leader, the failover time, no writes lost', async ({
  page,
}) => {
  test.setTimeout(90_000);
  await page.goto(baseUrl());
  const panel = page.getByTestId('cluster');
  await expect(panel.getByTestId('lost-writes')).toContainText('acknowledged writes lost');

  // A cluster left by an earlier test goes first: its nodes retired, the map dropped.
  if ((await replicas()).epoch > 0) {
    await panel.getByRole('button', { name: 'Dissolve cluster' }).click();
    await expect(panel).toContainText('No cluster yet', { timeout: 20_000 });
  }
  await panel.getByRole('button', { name: /Make a replicated cluster/ }).click();
  const s1 = panel.getByTestId('group-s1');
  await expect(s1).toBeVisible({ timeout: 30_000 });
  await expect(panel.getByTestId('group-s2')).toBeVisible();
  await expect(panel.getByRole('button', { name: 'Add shard' })).toBeDisabled();
  await expect(s1.getByTestId('group-s1-leader')).toContainText(/leader n\d+ · term \d+/, {
    timeout: 20_000,
  });

  // Traffic on the cluster while the leader dies.
  await mutate('load.start', {
    rate: 500,
    keys: 2000,
    readRatio: 0.5,
    distribution: 'uniform',
    scope: 'cluster',
  });

  const before = (await replicas()).nodes.find((n) => n.shard === 's1' && n.role === 'leader')!;
  expect(before).toBeDefined();
  await expect(s1.getByTestId(`replica-${before.id}`)).toHaveAttribute('data-role', 'leader');
  await s1.getByRole('button', { name: 'Kill leader' }).click();

  // Another replica leads, in a later term; the killed one shows down.
  await expect(s1.getByTestId(`replica-${before.id}`)).toContainText('down', { timeout: 15_000 });
  await expect
    .poll(
      async () => {
        const now = (await replicas()).nodes.find((n) => n.shard === 's1' && n.role === 'leader');
        return now !== undefined && now.id !== before.id && (now.term ?? 0) > (before.term ?? 0);
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  const after = (await replicas()).nodes.find((n) => n.shard === 's1' && n.role === 'leader')!;
  await expect(s1.getByTestId(`replica-${after.id}`)).toHaveAttribute('data-role', 'leader');
  await expect(s1.getByTestId('group-s1-leader')).toContainText(
    `leader ${after.id} · term ${after.term}`,
  );

  // The failover, with its measured time.
  const row = panel.getByTestId('failover-row').first();
  await expect(row).toContainText(before.id);
  await expect(row).toContainText(after.id);
  await expect(row.getByTestId('failover-ms')).toContainText(/\d+(\.\d+)? (ms|s)/);
  await expect(panel.getByTestId('election-timeline')).toContainText(
    `${after.id} · t${after.term}`,
  );

  // The load checks its reads against the writes it was told succeeded: none lost.
  const lost = panel.getByTestId('lost-writes');
  await expect(lost).toHaveText('acknowledged writes lost 0');
  await expect(panel.getByTestId('load-check')).toContainText('0 older than acknowledged (lost)');
  await page.waitForTimeout(2000);
  await screenshot(page, 'replicated-cluster-failover');

  // Replace the dead replica: it leaves the group, a new node joins and catches up, and the
  // load still loses nothing.
  const earlier = new Set((await replicas()).nodes.map((n) => n.id));
  await s1.getByTestId(`replica-${before.id}`).getByRole('button', { name: 'Replace' }).click();
  await expect(s1.getByTestId(`replica-${before.id}`)).toHaveCount(0, { timeout: 20_000 });
  await expect
    .poll(async () => (await replicas()).nodes.filter((n) => n.shard === 's1').length, {
      timeout: 30_000,
    })
    .toBe(3);
  const joined = (await replicas()).nodes.filter((n) => n.shard === 's1' && !earlier.has(n.id));
  expect(joined).toHaveLength(1);
  const fresh = s1.getByTestId(`replica-${joined[0]!.id}`);
  await expect(fresh).toContainText('up', { timeout: 20_000 });
  await expect(fresh).toContainText('follower', { timeout: 20_000 });
  await expect(panel.getByTestId('membership-pending')).toHaveCount(0, { timeout: 30_000 });
  await expect(lost).toHaveText('acknowledged writes lost 0');
  await screenshot(page, 'replicated-cluster-replaced');
  await mutate('load.stop');
  await expect(lost).toHaveText('acknowledged writes lost —');
});
