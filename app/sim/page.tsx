import type { Metadata } from 'next';
import { SimPage } from '../../components/sim/SimPage.tsx';

export const metadata: Metadata = {
  title: 'Simulator · TinyCache',
  description:
    'A resharding run of the deterministic simulator, in the browser, drawn with the live charts.',
};

export default function SimulatorPage() {
  return <SimPage />;
}
