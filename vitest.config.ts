import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests build real venvs with pip and run real training.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    env: {
      // The default index is unreachable on CI machines; without this every pip lookup stalls ~50 s.
      PIP_RETRIES: '0',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
    },
  },
});
