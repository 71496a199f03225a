import type { Metadata } from 'next';
import { SimPage } from '../../components/sim/SimPage.tsx';

export const metadata: Metadata = {
  title: 'Simulator · TinyCache',
  description:
    'Runs of the deterministic simulator in the browser: resharding under load, drawn with the live charts, and a replicated shard (Raft) under faults, with its checker verdict, timeline of terms and leaders, messages and client history.',
};

export default function SimulatorPage() {
  return <SimPage />;
}
