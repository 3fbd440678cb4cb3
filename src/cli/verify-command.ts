import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultCacheRoot } from '../environment/index.js';
import { UserError } from '../errors.js';
import { exitCodeFor } from '../pipeline/exit-code.js';
import { verifyRecords } from '../pipeline/verify.js';
import { writeReports } from '../pipeline/write-reports.js';
import { renderTerminal } from '../report/terminal.js';
import { parseCommandLine } from './parse-args.js';
import { terminalHooks } from './terminal-hooks.js';
import { USAGE_HINT } from './usage.js';

export async function runVerifyCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    json: { type: 'string' },
    markdown: { type: 'string' },
    python: { type: 'string' },
    'evidence-dir': { type: 'string' },
    'keep-artifacts': { type: 'boolean' },
  });
  if (positionals.length === 0) throw new UserError('verify needs at least one run record', USAGE_HINT);
  const evidenceDir = values['evidence-dir'] ?? (await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-')));
  const report = await verifyRecords(positionals, {
    python: values.python ?? 'python3',
    cacheRoot: defaultCacheRoot(),
    evidenceDir,
    keepArtifacts: values['keep-artifacts'] ?? false,
    hooks: terminalHooks(stderr),
  });
  await writeReports(report, { json: values.json, markdown: values.markdown });
  const color = 'isTTY' in stdout && Boolean(stdout.isTTY) && !process.env.NO_COLOR;
  stdout.write(`${renderTerminal(report, { color })}\n`);
  stderr.write(`Logs and evidence: ${evidenceDir}\n`);
  return exitCodeFor(report.verdict);
}
