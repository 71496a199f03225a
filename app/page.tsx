'use client';
import { useEffect } from 'react';
import { connectLive, useLive } from '../components/live-store.ts';

export default function DashboardPage() {
  useEffect(connectLive, []);
  const nodes = useLive((s) => s.nodes);
  return (
    <main>
      <h1>TinyCache</h1>
      <ul>
        {nodes.map((node) => (
          <li key={node.id}>
            {node.id} {node.status} {node.url}
          </li>
        ))}
      </ul>
    </main>
  );
}
