import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Row, runRow } from '../support/hostile/harness.js';
import { CLI_ROWS } from '../support/hostile/rows-cli.js';
import { OUTPUT_ROWS } from '../support/hostile/rows-outputs.js';
import { RECORD_ROWS } from '../support/hostile/rows-record.js';
import { SANDBOX_ROWS } from '../support/hostile/rows-sandbox.js';

// Issue 9's acceptance: a table of bad and hostile inputs, one test per row, each run through the bundled CLI in its
// own temporary repository. Every row checks the exit status, that the message names the culprit, no stack trace
// and no internal error, the working tree byte-identical (.git included), and no process left behind; rows about
// memory or time also bound the peak RSS or the duration. The rows live in test/support/hostile/.

const ROWS: Row[] = [...RECORD_ROWS, ...SANDBOX_ROWS, ...OUTPUT_ROWS, ...CLI_ROWS];

let cacheRoot: string;

beforeAll(async () => {
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-hostile-cache-'));
});

afterAll(async () => {
  await rm(cacheRoot, { recursive: true, force: true });
});

describe(`repro-gate against ${ROWS.length} hostile inputs (bundled CLI)`, () => {
  it('has unique row names', () => {
    const names = ROWS.map((row) => row.name);
    const duplicated = names.filter((name, i) => names.indexOf(name) !== i);
    if (duplicated.length > 0) throw new Error(`duplicated row names: ${duplicated.join(', ')}`);
  });

  for (const row of ROWS) {
    it(row.name, () => runRow(row, cacheRoot), ((row.limitSeconds ?? 30) + 60) * 1000);
  }
});
