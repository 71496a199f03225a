import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'core/**/*.test.ts',
      'server/**/*.test.ts',
      'bench/**/*.test.ts',
      'components/**/*.test.ts',
      'sim/**/*.test.ts',
    ],
    // One real PostgreSQL for the run: DATABASE_URL, or an embedded one (server/db).
    globalSetup: ['server/db/test-database.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
