import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/support/longest-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests build real venvs with pip and run real training.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    globalSetup: ['test/support/temp/run-root.ts'],
    setupFiles: ['test/support/temp/file-root.ts'],
    // vitest's default is one worker per core less one: a single worker on these 2-core machines. The integration
    // tests mostly wait on pip, training and git in child processes, so two files at a time use both cores.
    maxWorkers: 2,
    // Longest files first, so that both workers stay busy to the end (see the sequencer).
    sequence: { sequencer: LongestFirstSequencer },
    env: {
      // The default index is unreachable on CI machines; without this every pip lookup stalls ~50 s.
      PIP_RETRIES: '0',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      // One pip download cache for the whole run (and later runs), so no test downloads a wheel twice. Kept in the
      // machine's temporary folder, outside the run's (see test/support/temp/).
      PIP_CACHE_DIR: path.join(tmpdir(), 'repro-gate-test-pip-cache'),
      // The same for uv (the venv builds that use it copy out of it, never link into it).
      UV_CACHE_DIR: path.join(tmpdir(), 'repro-gate-test-uv-cache'),
    },
  },
});
