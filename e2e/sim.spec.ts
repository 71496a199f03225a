/** The simulator page in a real Chromium: a run made in the browser, drawn with the live charts. */
import { expect, type Page, test } from '@playwright/test';
import { parseSimArgs, simulate } from '../server/sim-command.ts';
import { fileURLToPath } from 'node:url';
import { baseUrl, figure, screenshot } from './support.ts';

const screenshotPath = (name: string) =>
  fileURLToPath(new URL(`../test-results/screenshots/${name}.png`, import.meta.url));

/** Clicks Run and waits for run number `n` of the page to be drawn; returns its report. */
async function run(page: Page, n: number): Promise<string> {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const results = page.locator(`section[data-run="${n}"]`);
  await expect(results).toBeVisible({ timeout: 30_000 });
  return (await page.getByTestId('sim-report').textContent()) ?? '';
}

test('a resharding run with the defaults draws its report, charts and ring', async ({ page }) => {
  await page.goto(`${baseUrl()}/sim`);
  const report = await run(page, 1);
  expect(report).toContain('TinyCache simulation: resharding scenario, seed 7');
  expect(report).toContain('20 shards +2');
  expect(report).toMatch(/Check\s+ok/);

  // The dashboard's hit-rate chart, fed the run: its legend shows the last second's figure.
  const hitRate = page.getByRole('figure', { name: 'Hit rate' });
  await expect(hitRate).toBeVisible();
  const legend = await hitRate.locator('li').first().textContent();
  expect(figure(legend)).toBeGreaterThan(50);
  await expect(hitRate.locator('svg.recharts-surface')).toBeVisible();
  await expect(
    page.getByRole('figure', { name: 'Throughput' }).locator('path').first(),
  ).toBeVisible();

  const trace = (await page.getByTestId('sim-trace').textContent()) ?? '';
  expect(report).toContain(`Trace       ${trace}`);
  const command =
    'npx tinycache sim resharding --shards 20 --add 2 --keys 20000 --rate 10000 --duration 10s --seed 7';
  await expect(page.getByTestId('sim-command')).toHaveText(command);
  // What the command prints is what the page showed, byte for byte.
  const cli = parseSimArgs(command.split(' ').slice(3));
  expect(cli).not.toBe('help');
  if (cli !== 'help') expect(simulate(cli).report).toBe(report);
  expect(figure(await page.getByTestId('sim-speed').textContent())).toBeGreaterThan(1000);
  await expect(page.getByRole('img', { name: /After the move: 22 shards/ })).toBeVisible();
  await screenshot(page, 'sim');
});

test('the same seed gives the same report; another seed another run', async ({ page }) => {
  await page.goto(`${baseUrl()}/sim`);
  const first = await run(page, 1);
  const second = await run(page, 2);
  expect(second).toBe(first);

  await page.getByLabel('Seed').fill('8');
  const other = await run(page, 3);
  expect(other).toContain('seed 8');
  expect(other).not.toBe(first);
});

test('without Web Workers the run happens on the page, with the same report', async ({ page }) => {
  await page.goto(`${baseUrl()}/sim`);
  const inWorker = await run(page, 1);
  await expect(page.getByText(/in a Web Worker/)).toBeVisible();

  await page.addInitScript(() => Object.defineProperty(window, 'Worker', { value: undefined }));
  await page.reload();
  const onPage = await run(page, 1);
  await expect(page.getByText(/on the page$/)).toBeVisible();
  expect(onPage).toBe(inWorker);
});

test('a Raft run with the defaults shows its verdict, timeline, messages and history', async ({
  page,
}) => {
  await page.goto(`${baseUrl()}/sim`);
  await page.getByRole('radio', { name: 'Replicated shard (Raft)' }).check();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(
    'Simulator: a replicated shard under faults',
  );
  const report = await run(page, 1);
  expect(report).toMatch(/seed 1\b/);

  const verdict = page.getByTestId('raft-verdict');
  await expect(verdict).toBeVisible();
  const ok = report.includes('FAILED') ? 'FAILED' : 'OK';
  await expect(verdict).toContainText(ok);

  const timeline = page.getByRole('img', { name: /^Timeline of terms and leaders: 3 replicas/ });
  await expect(timeline).toBeVisible();
  expect(await timeline.locator('[data-role="leader"]').count()).toBeGreaterThan(0);
  await expect(timeline.getByTestId('faults-stop')).toBeVisible();
  await expect(
    page.getByRole('img', { name: /^Messages between replicas: [\d,]+ delivered/ }),
  ).toBeVisible();
  const history = page.getByRole('img', { name: /^Client history: [\d,]+ operations/ });
  await expect(history).toBeVisible();
  expect(await history.locator('[data-op]').count()).toBeGreaterThan(10);
  await expect(
    page.getByTestId('raft-messages-chart').locator('svg.recharts-surface'),
  ).toBeVisible();

  const command =
    'npx tinycache sim raft --seed 1 --replicas 3 --clients 4 --faults-for 10s --loss 0.05';
  await expect(page.getByTestId('sim-command')).toHaveText(command);
  const trace = (await page.getByTestId('sim-trace').textContent()) ?? '';
  expect(report).toContain(trace);
  // What the command prints is what the page showed, byte for byte, and the same verdict.
  const cli = parseSimArgs(command.split(' ').slice(3));
  expect(cli).not.toBe('help');
  if (cli !== 'help') {
    const printed = simulate(cli);
    expect(printed.report).toBe(report);
    expect(printed.failed).toBe(ok === 'FAILED');
  }
  await screenshot(page, 'sim-raft');
  // Each drawing alone, at full size, for a look at its detail.
  for (const [name, card] of [
    ['timeline', timeline],
    ['history', history],
    ['messages', page.getByTestId('raft-messages')],
  ] as const) {
    await card
      .locator('xpath=ancestor::div[1]')
      .screenshot({ path: screenshotPath(`sim-raft-${name}`) });
  }

  // Zoomed to half a second: the same drawings, fewer bars.
  const bars = await history.locator('[data-op]').count();
  await page
    .getByRole('group', { name: 'Time shown' })
    .getByRole('button', { name: '0.5 s' })
    .click();
  await expect(page.getByLabel('Window start')).toBeVisible();
  expect(await history.locator('[data-op]').count()).toBeLessThan(bars);
  await timeline
    .locator('xpath=ancestor::div[1]')
    .screenshot({ path: screenshotPath('sim-raft-timeline-zoomed') });
  await history
    .locator('xpath=ancestor::div[1]')
    .screenshot({ path: screenshotPath('sim-raft-history-zoomed') });

  // Only the votes' arrows.
  await page.getByRole('button', { name: /^Votes/ }).click();
  await expect(
    page.getByRole('img', { name: /^Messages between replicas \(Votes\)/ }),
  ).toBeVisible();
});

test('a Raft run: the same seed gives the same report, in a worker or on the page', async ({
  page,
}) => {
  await page.goto(`${baseUrl()}/sim`);
  await page.getByRole('radio', { name: 'Replicated shard (Raft)' }).check();
  await page.getByLabel('Replicas').selectOption('5');
  await page.getByLabel('Seed').fill('42');
  const first = await run(page, 1);
  await expect(page.getByText(/in a Web Worker/)).toBeVisible();
  await expect(
    page.getByRole('img', { name: /^Timeline of terms and leaders: 5 replicas/ }),
  ).toBeVisible();
  await expect(page.getByTestId('sim-command')).toContainText('--seed 42 --replicas 5');
  await screenshot(page, 'sim-raft-5');
  await page
    .getByTestId('raft-messages')
    .locator('xpath=ancestor::div[1]')
    .screenshot({ path: screenshotPath('sim-raft-5-messages') });
  const second = await run(page, 2);
  expect(second).toBe(first);

  await page.getByRole('checkbox', { name: 'Partitions' }).uncheck();
  const other = await run(page, 3);
  expect(other).not.toBe(first);
  await expect(page.getByTestId('sim-command')).toContainText('--no-partitions');

  await page.addInitScript(() => Object.defineProperty(window, 'Worker', { value: undefined }));
  await page.reload();
  await page.getByRole('radio', { name: 'Replicated shard (Raft)' }).check();
  await page.getByLabel('Replicas').selectOption('5');
  await page.getByLabel('Seed').fill('42');
  const onPage = await run(page, 1);
  await expect(page.getByText(/on the page$/)).toBeVisible();
  expect(onPage).toBe(first);
});
