'use client';
/**
 * A running node's tunables: eviction policy, memory limit, compression threshold. They apply
 * at once (PATCH /v1/config), so the charts answer within a second or two.
 */
import { useState } from 'react';
import {
  CONFIG_LIMITS,
  type NodeConfig,
  parseBytes,
  POLICIES,
  type PolicyName,
} from '../../core/config.ts';
import type { NodeInfo } from '../../server/control/supervisor.ts';
import { formatBytes } from '../format.ts';
import { useLive } from '../live-store.ts';
import { trpc } from '../trpc.ts';
import styles from './dashboard.module.css';
import { Message, SelectField, TextField } from './fields.tsx';
import { useAction } from './use-action.ts';

const POLICY_TEXT: Record<PolicyName, string> = {
  lru: 'LRU: evict the least recently used',
  wtinylfu: 'W-TinyLFU: keep what is used often',
};

const POLICY_NAME: Record<PolicyName, string> = { lru: 'LRU', wtinylfu: 'W-TinyLFU' };

interface Props {
  readonly nodeId: string | null;
  readonly onSelect: (id: string) => void;
  /** Draws the charts for this node alone, to watch a change take effect. */
  readonly onWatch: (id: string) => void;
}

export function ConfigPanel({ nodeId, onSelect, onWatch }: Props) {
  const nodes = useLive((s) => s.nodes);
  const node = nodes.find((n) => n.id === nodeId);
  const [result, setResult] = useState<string | null>(null);
  const [everyNode, setEveryNode] = useState(false);

  return (
    <section className={styles.panel}>
      <div className={styles.panelHead}>
        <h2 id="config-title" className={styles.panelTitle}>
          Node config
        </h2>
      </div>
      <p className={styles.panelText}>
        Applies to the running process at once and survives a restart.
      </p>
      <SelectField
        id="config-node"
        label="Node"
        spaced
        value={node?.id ?? null}
        choices={nodes.map((n) => ({ value: n.id, label: `${n.id} (${n.status})` }))}
        empty="no nodes"
        onChange={(id) => {
          setResult(null);
          onSelect(id);
        }}
      />
      {node === undefined ? (
        <p className={styles.emptyNote}>Start a node to tune it.</p>
      ) : (
        <ConfigForm
          key={`${node.id} ${JSON.stringify(node.config)}`}
          node={node}
          result={result}
          onResult={setResult}
          onWatch={onWatch}
          everyNode={everyNode}
          onEveryNode={setEveryNode}
        />
      )}
    </section>
  );
}

/** Exact, so the text a form starts with parses back to the same number of bytes. */
function exactBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && Number.isInteger((bytes / size) * 10)) return `${bytes / size} ${unit}`;
  }
  return `${bytes} B`;
}

function sizeError(
  text: string,
  limits: { readonly min: number; readonly max: number },
): { bytes: number } | { error: string } {
  const bytes = parseBytes(text);
  const range = `${formatBytes(limits.min)} to ${formatBytes(limits.max)}`;
  if (bytes === undefined) {
    return { error: `Write a size such as 64 MiB, 512KiB or 1048576 (${range}).` };
  }
  if (bytes < limits.min || bytes > limits.max) {
    return { error: `${formatBytes(bytes)} is out of range: ${range}.` };
  }
  return { bytes };
}

function ConfigForm({
  node,
  result,
  onResult,
  onWatch,
  everyNode,
  onEveryNode,
}: {
  node: NodeInfo;
  result: string | null;
  onResult: (text: string | null) => void;
  onWatch: (id: string) => void;
  /** Apply to every node that is up, not only this one. */
  everyNode: boolean;
  onEveryNode: (every: boolean) => void;
}) {
  const upsertNode = useLive((s) => s.upsertNode);
  const nodes = useLive((s) => s.nodes);
  const [policy, setPolicy] = useState<PolicyName>(node.config.policy);
  const [memory, setMemory] = useState(exactBytes(node.config.maxMemoryBytes));
  const [threshold, setThreshold] = useState(
    node.config.compressThresholdBytes === 0 ? '0' : exactBytes(node.config.compressThresholdBytes),
  );
  const memoryParsed = sizeError(memory, CONFIG_LIMITS.maxMemoryBytes);
  const thresholdParsed = sizeError(threshold, CONFIG_LIMITS.compressThresholdBytes);
  const valid = 'bytes' in memoryParsed && 'bytes' in thresholdParsed;

  const apply = useAction(async () => {
    if (!('bytes' in memoryParsed && 'bytes' in thresholdParsed)) return;
    const patch: { -readonly [K in keyof NodeConfig]?: NodeConfig[K] } = {
      policy,
      maxMemoryBytes: memoryParsed.bytes,
      compressThresholdBytes: thresholdParsed.bytes,
    };
    onResult(null);
    const answers = await trpc.config.set.mutate(everyNode ? { patch } : { id: node.id, patch });
    for (const answer of answers) {
      const known = nodes.find((n) => n.id === answer.id);
      if (known !== undefined) upsertNode({ ...known, config: answer.config });
    }
    const first = answers[0]?.config;
    onResult(
      first === undefined
        ? 'No node is up to take it.'
        : `${answers.map((a) => a.id).join(', ')}: ${POLICY_NAME[first.policy]}, limit ${formatBytes(first.maxMemoryBytes)}, ${
            first.compressThresholdBytes === 0
              ? 'compression off'
              : `gzip from ${formatBytes(first.compressThresholdBytes)}`
          }.`,
    );
  });

  const blocked =
    everyNode || node.status === 'up'
      ? null
      : node.status === 'paused'
        ? `${node.id} is paused; resume it to change its config.`
        : node.status === 'starting'
          ? `${node.id} is starting; wait until it is up.`
          : `${node.id} is down; restart it to change its config.`;

  return (
    <form
      className={styles.form}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) void apply.run();
      }}
    >
      <SelectField
        id="config-policy"
        label="Eviction policy"
        value={policy}
        choices={POLICIES.map((p) => ({ value: p, label: POLICY_TEXT[p] }))}
        onChange={setPolicy}
      />
      <div className={styles.fieldRow}>
        <TextField
          id="config-memory"
          label="Memory limit"
          value={memory}
          onChange={setMemory}
          error={'error' in memoryParsed ? memoryParsed.error : undefined}
          hint="Lower it under load: evictions climb."
          mono
        />
        <TextField
          id="config-threshold"
          label="Compression threshold"
          value={threshold}
          onChange={setThreshold}
          error={'error' in thresholdParsed ? thresholdParsed.error : undefined}
          hint="Values this big are gzipped; 0 is off."
          mono
        />
      </div>
      <label className={styles.checkbox}>
        <input
          type="checkbox"
          checked={everyNode}
          onChange={(e) => onEveryNode(e.target.checked)}
        />
        Apply to the whole cluster (every member that is up)
      </label>
      <div className={styles.buttonRow}>
        <button
          type="submit"
          className={styles.buttonPrimary}
          disabled={!valid || apply.pending || blocked !== null}
        >
          Apply config
        </button>
        <span className={styles.buttonNote}>{apply.pending ? 'Applying…' : ''}</span>
      </div>
      <Message error={apply.error ?? blocked}>
        {result}
        {result !== null && !everyNode && (
          <>
            {' '}
            <button type="button" className={styles.linkButton} onClick={() => onWatch(node.id)}>
              Chart {node.id} alone
            </button>
          </>
        )}
      </Message>
    </form>
  );
}
