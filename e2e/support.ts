/** What the browser tests share: the playground's URL and its API, read the way a script would. */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';

export function baseUrl(): string {
  const url = process.env.TINYCACHE_URL;
  if (url === undefined)
    throw new Error('TINYCACHE_URL is unset: run the tests with playwright test -c e2e');
  return url;
}

export interface NodeState {
  id: string;
  pid: number | null;
  status: string;
  url: string;
  port: number;
}

export async function clusterState(): Promise<{ nodes: NodeState[] }> {
  const res = await fetch(`${baseUrl()}/api/trpc/cluster.state`);
  const { result } = (await res.json()) as { result: { data: { nodes: NodeState[] } } };
  return result.data;
}

export async function nodeState(id: string): Promise<NodeState> {
  const node = (await clusterState()).nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id}`);
  return node;
}

/** Calls a tRPC mutation the way a script would (no Origin: allowed). */
export async function mutate(path: string, input: unknown = undefined): Promise<unknown> {
  const res = await fetch(`${baseUrl()}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: input === undefined ? undefined : JSON.stringify(input),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));

/** Saves a full-page screenshot as a test artifact: test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = `${SCREENSHOTS}${name}.png`;
  // The whole page in one viewport, so the sticky header sits at the top of the picture.
  const viewport = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  if (viewport !== null) await page.setViewportSize({ width: viewport.width, height });
  // Charts draw once on screen (components/use-on-screen.ts): give them a frame or two.
  await page.waitForTimeout(500);
  await page.screenshot({ path });
  if (viewport !== null) await page.setViewportSize(viewport);
  return path;
}

/** The number in a figure such as `2,013 req/s` or `93.1 %`. */
export function figure(text: string | null): number {
  const match = /-?[\d,]*\.?\d+/.exec(text ?? '');
  return match === null ? NaN : Number(match[0].replaceAll(',', ''));
}
