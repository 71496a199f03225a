import type { Metadata } from 'next';
import { LevelIndex } from '../../components/walkthrough/LevelIndex.tsx';

export const metadata: Metadata = {
  title: 'Guided walkthroughs · TinyCache',
  description: 'Eight levels of a distributed cache, each walked through on a live cluster.',
};

export default function LevelsPage() {
  return <LevelIndex />;
}
