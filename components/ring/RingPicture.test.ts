import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Ring } from '../../core/ring/index.ts';
import { shardColor } from '../palette.ts';
import { movedArcs, ownershipArcs } from './geometry.ts';
import { RingPicture, type RingPictureProps } from './RingPicture.tsx';

function render(props: RingPictureProps): string {
  return renderToStaticMarkup(createElement(RingPicture, props));
}

function count(html: string, pattern: RegExp): number {
  return html.match(new RegExp(pattern, 'g'))?.length ?? 0;
}

const three = new Ring(['s1', 's2', 's3']);
const four = three.withShard('s4');

describe('RingPicture', () => {
  it('draws one band path per merged arc, in its owner colour', () => {
    const html = render({ ring: four });
    const arcs = ownershipArcs(four);
    expect(count(html, /<path data-band="/)).toBe(arcs.length);
    for (const shard of four.shards) {
      expect(
        count(html, new RegExp(`data-band="${shard}"[^>]*stroke="${shardColor(shard)}"`)),
      ).toBe(arcs.filter((a) => a.key === shard).length);
    }
  });

  it('lists every shard in the legend, sorted by id, with its share', () => {
    const ring = new Ring(['s10', 's2', 's1']);
    const html = render({ ring });
    const listed = [...html.matchAll(/<li[^>]*data-shard="([^"]+)"/g)].map((m) => m[1]);
    expect(listed).toEqual(['s1', 's2', 's10']);
    for (const [shard, share] of ring.shares()) {
      expect(html).toContain(`${(share * 100).toFixed(1)} %`);
      expect(html).toContain(`background:${shardColor(shard)}`);
    }
  });

  it('is an image with a title and a label naming every shard and share', () => {
    const html = render({ ring: four, title: 'The ring' });
    expect(html).toMatch(/<svg[^>]*role="img"/);
    expect(html).toContain('<title>The ring</title>');
    const label = /aria-label="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(label).toContain('The ring: 4 shards');
    for (const [shard, share] of four.shares()) {
      expect(label).toContain(`${shard} ${(share * 100).toFixed(1)} %`);
    }
  });

  it('marks the moved arcs and says how much moved against the ideal 1/N', () => {
    const html = render({ ring: four, previous: three });
    expect(count(html, /<path data-moved="/)).toBe(movedArcs(three, four).length);
    expect(html).toContain('ideal 1/4 = 25.0 %');
    expect(html).toContain('3 → 4 shards');
    // The legend keeps the shares before the move beside the new ones.
    expect(html).toMatch(/data-shard="s4".*new/);
    expect(html).toContain(`was ${((three.shares().get('s1') ?? 0) * 100).toFixed(1)} %`);
  });

  it("says a removal's ideal is the removed shard's share, and still lists it", () => {
    const html = render({ ring: three, previous: four });
    // React escapes the apostrophe in markup.
    expect(html).toContain('ideal s4&#x27;s share');
    // Over: it left. While keys move: leaving.
    expect(html).toMatch(/data-shard="s4".*left/);
    const moving = render({
      ring: three,
      previous: four,
      resharding: { movedKeys: 1, totalKeys: 10 },
    });
    expect(moving).toMatch(/data-shard="s4".*leaving/);
  });

  it('marks nothing without a previous ring', () => {
    const html = render({ ring: four, previous: null });
    expect(count(html, /data-moved=/)).toBe(0);
    expect(html).toContain('No keys moving');
  });

  it('shows the keys streamed so far as a line and a bar', () => {
    const html = render({
      ring: four,
      previous: three,
      resharding: { movedKeys: 1204, totalKeys: 5000 },
    });
    expect(html).toContain('1,204 of 5,000 keys moved');
    expect(html).toMatch(/role="progressbar"[^>]*aria-valuenow="24"/);
    expect(html).toContain('width:24.1%');
  });

  it('draws vnode ticks when they fit, one path per shard, and skips them when they do not', () => {
    const few = new Ring(['s1', 's2', 's3'], { vnodes: 8 });
    expect(count(render({ ring: few }), /data-ticks="/)).toBe(3);
    expect(count(render({ ring: four }), /data-ticks="/)).toBe(0);
  });

  it('keeps the element count bounded for big rings', () => {
    const big = new Ring(Array.from({ length: 40 }, (_, i) => `s${i + 1}`));
    const html = render({ ring: big });
    expect(count(html, /<path/)).toBeLessThanOrEqual(40);
  });
});

describe('shardColor', () => {
  it('gives s1 to s10 ten different colours, none of them a status colour', () => {
    const colors = Array.from({ length: 10 }, (_, i) => shardColor(`s${i + 1}`));
    expect(new Set(colors).size).toBe(10);
    for (const status of ['#16a34a', '#d97706', '#dc2626']) expect(colors).not.toContain(status);
  });

  it('is stable, and colours any other id from the same palette', () => {
    expect(shardColor('s3')).toBe(shardColor('s3'));
    expect(shardColor('s11')).toBe(shardColor('s1'));
    const palette = new Set(Array.from({ length: 10 }, (_, i) => shardColor(`s${i + 1}`)));
    for (const id of ['eu-west', 'shard-a', 'alpha', '0']) {
      expect(palette).toContain(shardColor(id));
      expect(shardColor(id)).toBe(shardColor(id));
    }
  });
});
