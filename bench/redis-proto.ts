/**
 * Pure pieces of the Redis Cluster failover benchmark (bench/redis-cluster.ts): the RESP wire
 * format (commands out, replies in), a key's hash slot (CRC16 of the key or its {hash tag},
 * mod 16384), CLUSTER NODES as records, and MOVED redirects.
 */

export const SLOTS = 16384;

/** A RESP reply: simple string or bulk (string), nil (null), integer, error, or array. */
export type Reply = string | number | null | RespError | readonly Reply[];

/** An error reply (`-MOVED 3999 127.0.0.1:6381`, `-CLUSTERDOWN ...`). */
export class RespError extends Error {}

/** A command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/**
 * One reply read from `buf` at `offset`: the reply and where the next one starts, or null when
 * `buf` does not hold all of it yet.
 */
export function parseReply(buf: Buffer, offset = 0): { reply: Reply; next: number } | null {
  if (offset >= buf.length) return null;
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { reply: line, next: after };
    case '-':
      return { reply: new RespError(line), next: after };
    case ':':
      return { reply: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, next: after };
      if (buf.length < after + length + 2) return null;
      return { reply: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, next: after };
      const items: Reply[] = [];
      let at = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (item === null) return null;
        items.push(item.reply);
        at = item.next;
      }
      return { reply: items, next: at };
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('utf8', offset, eol))}`);
  }
}

/** CRC16-CCITT (XModem: polynomial 0x1021, initial 0), as Redis Cluster uses it. */
export function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The hash slot of `key`: of its first non-empty {hash tag} if it has one, else of all of it. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open >= 0) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

/** One line of CLUSTER NODES. */
export interface ClusterNode {
  readonly id: string;
  /** `host:port` clients connect to (the cluster bus port and hostname dropped). */
  readonly address: string;
  readonly flags: readonly string[];
  /** The master's id for a replica; null for a master. */
  readonly masterId: string | null;
  readonly configEpoch: number;
  readonly connected: boolean;
  /** Slot ranges served, inclusive (importing/migrating entries left out). */
  readonly slots: readonly (readonly [number, number])[];
}

/** CLUSTER NODES' text as records (`<id> <ip:port@cport[,hostname]> <flags> <master> ...`). */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const fields = line.split(' ');
      if (fields.length < 8) throw new Error(`not a CLUSTER NODES line: ${line}`);
      const slots: [number, number][] = [];
      for (const range of fields.slice(8)) {
        if (range.startsWith('[')) continue;
        const [from, to] = range.split('-');
        slots.push([Number(from), Number(to ?? from)]);
      }
      return {
        id: fields[0]!,
        address: fields[1]!.split('@')[0]!.split(',')[0]!,
        flags: fields[2]!.split(','),
        masterId: fields[3] === '-' ? null : fields[3]!,
        configEpoch: Number(fields[6]),
        connected: fields[7] === 'connected',
        slots,
      };
    });
}

/** Whether `node` serves `slot`. */
export function servesSlot(node: ClusterNode, slot: number): boolean {
  return node.slots.some(([from, to]) => slot >= from && slot <= to);
}

/** `MOVED <slot> <host:port>` as its parts; null for any other error. */
export function parseMoved(message: string): { slot: number; address: string } | null {
  const match = /^MOVED (\d+) (\S+)$/.exec(message);
  return match === null ? null : { slot: Number(match[1]), address: match[2]! };
}
