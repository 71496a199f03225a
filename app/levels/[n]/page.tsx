import type { Metadata } from 'next';
import { notFound } from 'next/navigation.js';
import { LEVELS, levelInfo, parseLevel } from '../../../components/walkthrough/catalog.ts';
import { ComingLevel } from '../../../components/walkthrough/ComingLevel.tsx';
import { Walkthrough } from '../../../components/walkthrough/Walkthrough.tsx';

interface Props {
  readonly params: Promise<{ n: string }>;
}

export function generateStaticParams() {
  return LEVELS.map((level) => ({ n: String(level.n) }));
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const n = parseLevel((await params).n);
  const info = n === undefined ? undefined : levelInfo(n);
  return {
    title:
      info === undefined
        ? 'No such level · TinyCache'
        : `Level ${info.n}: ${info.title} · TinyCache`,
  };
}

export default async function LevelPage({ params }: Props) {
  const n = parseLevel((await params).n);
  const info = n === undefined ? undefined : levelInfo(n);
  if (info === undefined) notFound();
  return info.status === 'built' ? <Walkthrough n={info.n} /> : <ComingLevel info={info} />;
}
