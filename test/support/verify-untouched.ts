import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { type Report, ReportSchema } from '../../src/report/schema.js';
import type { FixtureRepo } from './fixture-repo.js';
import { snapshotTree } from './tree-snapshot.js';

/** Runs verify and proves the user's tree (including .git) is byte-identical afterwards. */
export async function verifyUntouched(repo: FixtureRepo, args: string[] = []) {
  const jsonFile = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-out-')), 'report.json');
  const before = await snapshotTree(repo.root);
  const result = await repo.verify(['--json', jsonFile, ...args]);
  expect(await snapshotTree(repo.root)).toEqual(before);
  const report: Report | undefined = await readFile(jsonFile, 'utf8').then(
    (text) => ReportSchema.parse(JSON.parse(text)),
    () => undefined,
  );
  return { ...result, report, record: report?.records[0] };
}
