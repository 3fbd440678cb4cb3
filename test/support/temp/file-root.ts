import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, inject } from 'vitest';

// Each test file (its own process in the forks pool) gets a temporary folder of its own inside the run's, set as
// TMPDIR so that os.tmpdir(), mktemp and Python's tempfile in every child use it, and removed when the file ends.

const fileRoot = mkdtempSync(path.join(inject('testRunRoot'), 'file-'));
// Open to every user, sticky, as /tmp is: some tests run the CLI as nobody.
chmodSync(fileRoot, 0o1777);
process.env.TMPDIR = fileRoot;

afterAll(() => rmSync(fileRoot, { recursive: true, force: true }));
