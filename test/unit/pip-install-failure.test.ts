import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PIP_INSTALL_LOG_NAME } from '../../src/constants.js';
import { failingRequirement, outputTail } from '../../src/environment/pip-failure.js';
import { prepareEnvironment } from '../../src/environment/index.js';
import { describeError, UserError } from '../../src/errors.js';

// Issue 9, item 7: a failed `pip install` names the requirement it could not install, quotes the end of pip's output
// (where its ERROR lines are), and keeps the whole output as evidence.

describe('a pin that does not exist, through the real pip-venv manager', () => {
  let error: UserError;
  let logDir: string;

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-pip-failure-'));
    // Many lines before the bad pin: the message must still name it.
    const comments = Array.from({ length: 2_000 }, (_, i) => `# pinned for reason ${i}: ${'x'.repeat(60)}`).join('\n');
    await writeFile(path.join(dir, 'requirements.txt'), `${comments}\nnumpy==0.0.0\n`);
    logDir = path.join(dir, 'evidence', 'my-model');
    const thrown = await prepareEnvironment({
      python: 'python3',
      requirementsFile: path.join(dir, 'requirements.txt'),
      requirementsDisplayPath: 'requirements.txt',
      cacheRoot: path.join(dir, 'cache'),
      log: () => undefined,
      logDir,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(thrown).toBeInstanceOf(UserError);
    error = thrown as UserError;
  });

  it('names the requirement pip could not install, in a message short enough for the report', () => {
    expect(error.message).toMatch(/^the environment failed to build: pip install -r requirements\.txt exited 1: could not install numpy==0\.0\.0\n/);
    expect(error.message).toMatch(/No matching distribution found for numpy==0\.0\.0$/);
    expect(error.message.length).toBeLessThan(2_000);
    expect(describeError(error).message).not.toMatch(/internal error/);
  });

  it("keeps pip's whole output in the evidence folder and points at it", async () => {
    const log = path.join(logDir, PIP_INSTALL_LOG_NAME);
    expect(error.hint).toContain(log);
    expect(await readFile(log, 'utf8')).toMatch(/No matching distribution found for numpy==0\.0\.0/);
  });
});

describe("reading pip's output", () => {
  const longOutput = [
    ...Array.from({ length: 5_000 }, (_, i) => `Collecting package-${i}==1.0 (from -r requirements.txt (line ${i}))`),
    `ERROR: Could not find a version that satisfies the requirement torch==9.9.9 (from versions: ${Array.from({ length: 300 }, (_, i) => `2.${i}.0`).join(', ')})`,
    'ERROR: No matching distribution found for torch==9.9.9',
  ].join('\n');

  it('finds the failing requirement at the end of a long output', () => {
    expect(failingRequirement(longOutput)).toBe('torch==9.9.9');
  });

  it('falls back to the "could not find a version" line, without its list of versions', () => {
    expect(failingRequirement('ERROR: Could not find a version that satisfies the requirement scipy>=99 (from versions: 1.0, 1.1)')).toBe('scipy>=99');
  });

  it('quotes the last lines, each capped, so the ERROR lines survive', () => {
    const tail = outputTail(longOutput);
    expect(tail.endsWith('ERROR: No matching distribution found for torch==9.9.9')).toBe(true);
    expect(tail.length).toBeLessThan(2_000);
    expect(tail).not.toContain('package-0==');
  });
});
