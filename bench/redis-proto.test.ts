import { describe, expect, it } from 'vitest';
import {
  crc16,
  encodeCommand,
  keySlot,
  parseClusterNodes,
  parseMoved,
  parseReply,
  RespError,
  servesSlot,
} from './redis-proto.ts';

describe('crc16 and keySlot', () => {
  it('match the Redis Cluster specification', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('bar')).toBe(5061);
  });

  it('hash only the first non-empty {hash tag}', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}')); // empty tag: the whole key
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});

describe('RESP', () => {
  it('encodes a command as an array of bulk strings', () => {
    expect(encodeCommand(['SET', 'k', 'vé']).toString()).toBe(
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n',
    );
  });

  it('parses each kind of reply, one after another', () => {
    const buf = Buffer.from('+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n-ERR no\r\n');
    const replies = [];
    let at = 0;
    for (let r = parseReply(buf, at); r !== null; r = parseReply(buf, at)) {
      replies.push(r.reply);
      at = r.next;
    }
    expect(replies.slice(0, 5)).toEqual(['OK', 42, 'abc', null, ['a', 1]]);
    expect(replies[5]).toBeInstanceOf(RespError);
    expect((replies[5] as RespError).message).toBe('ERR no');
    expect(at).toBe(buf.length);
  });

  it('waits for a reply that has not fully arrived', () => {
    expect(parseReply(Buffer.from('$5\r\nab'))).toBeNull();
    expect(parseReply(Buffer.from('*2\r\n:1\r\n'))).toBeNull();
    expect(parseReply(Buffer.from('+O'))).toBeNull();
  });
});

describe('parseClusterNodes', () => {
  const text = [
    '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@40004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
    'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]',
    '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@40003 master,fail - 1426238316232 1426238314222 3 disconnected 10923-16383 5461 5462-5463',
    '',
  ].join('\n');

  it('reads ids, addresses, flags, masters and slot ranges', () => {
    const nodes = parseClusterNodes(text);
    expect(nodes).toHaveLength(3);
    expect(nodes[0]).toEqual({
      id: '07c37dfeb235213a872192d90877d0cd55635b91',
      address: '127.0.0.1:30004',
      flags: ['slave'],
      masterId: 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca',
      configEpoch: 4,
      connected: true,
      slots: [],
    });
    expect(nodes[1]!.flags).toEqual(['myself', 'master']);
    expect(nodes[1]!.masterId).toBeNull();
    expect(nodes[1]!.slots).toEqual([[0, 5460]]);
    expect(nodes[2]!.connected).toBe(false);
    expect(nodes[2]!.slots).toEqual([
      [10923, 16383],
      [5461, 5461],
      [5462, 5463],
    ]);
    expect(servesSlot(nodes[2]!, 5462)).toBe(true);
    expect(servesSlot(nodes[2]!, 5464)).toBe(false);
    expect(servesSlot(nodes[1]!, 0)).toBe(true);
  });
});

describe('parseMoved', () => {
  it('reads the slot and the new address', () => {
    expect(parseMoved('MOVED 3999 127.0.0.1:6381')).toEqual({
      slot: 3999,
      address: '127.0.0.1:6381',
    });
    expect(parseMoved('CLUSTERDOWN The cluster is down')).toBeNull();
  });
});
