/**
 * Test fixture for disk-storage.integration.test.ts: saves entries (and a hard state naming
 * the last one) into DiskStorage at `dir`, several saves in flight at once, and prints each
 * entry's index once its save has resolved, until it is killed.
 *
 * Usage: node --import tsx disk-storage-crash-fixture.ts <dir>
 */
import { DiskStorage } from './disk-storage.ts';

const IN_FLIGHT = 8;

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: disk-storage-crash-fixture.ts <dir>');
  const storage = await DiskStorage.open(dir, { segmentBytes: 64 * 1024 });
  let next = storage.lastIndex() + 1;
  const term = storage.hardState().term + 1;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const entries = [{ index, term, data: new TextEncoder().encode(`value ${index}`) }];
      await storage.save({
        snapshot: null,
        entries,
        hardState: { term, vote: 'n1', commit: index },
      });
      process.stdout.write(`${index}\n`);
      if (index % 500 === 0)
        await storage.createSnapshot(index - 100, new TextEncoder().encode(`state ${index - 100}`));
    }
  };
  process.stdout.write('ready\n');
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
