/** The simulator page in a real Chromium: a run made in the browser, drawn with the live charts. */
import { expect, type Page, test } from '@playwright/test';
import { parseSimArgs, simulate } from '../server/sim-command.ts';
import { baseUrl, figure, screenshot } from './support.ts';

/** Clicks Run and waits for run number `n` of the page to be drawn; returns its report. */
async function run(page: Page, n: number): Promise<string> {
  await page.getByRole('button', { name: 'Run' }).click();
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
