import { describe, expect, it } from 'vitest';
import { KILLED_LISTED_MAX } from '../../src/constants.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type RecordReport, ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { recordReport, report } from '../support/report-fixtures.js';

// How the rerun's processes were tracked, and what it left running, in the JSON report, the PR comment and the terminal.

function withRun(run: Partial<NonNullable<RecordReport['run']>>): RecordReport {
  const base = recordReport();
  return { ...base, run: { ...base.run!, ...run } };
}

describe('containment in the report', () => {
  it('lists the killed processes in the comment and the terminal, escaped', () => {
    const record = withRun({ containment: 'cgroup', killed: ['sh -c sleep 300', 'python serve.py @team <b>'] });
    const markdown = renderMarkdown(report([record]));
    expect(markdown).toContain('Processes tracked by a cgroup; left running by the command and killed: sh -c sleep 300 · python serve.py @\u200bteam &lt;b&gt;');
    const terminal = renderTerminal(report([record]));
    expect(terminal).toContain('  left running by the command, killed (found by its cgroup): sh -c sleep 300 · python serve.py @team <b>');
  });

  it('says a marker tracked them, and stays quiet in the terminal when nothing was left running', () => {
    const record = withRun({ containment: 'marker', killed: [] });
    expect(renderMarkdown(report([record]))).toContain('Processes tracked by an environment marker\n');
    expect(renderTerminal(report([record]))).not.toContain('left running');
    // Reports from before this field render as they did.
    expect(renderMarkdown(report([recordReport()]))).not.toContain('Processes tracked');
  });

  it('caps what an untrusted report may carry', () => {
    const tooMany = report([withRun({ containment: 'cgroup', killed: Array.from({ length: KILLED_LISTED_MAX + 1 }, () => 'sleep 1') })]);
    expect(ReportSchema.safeParse(tooMany).success).toBe(false);
    const unknownKind = report([withRun({ containment: 'jail' as 'cgroup' })]);
    expect(ReportSchema.safeParse(unknownKind).success).toBe(false);
    expect(ReportSchema.safeParse(report([withRun({ containment: 'marker', killed: ['sleep 1'] })])).success).toBe(true);
  });
});
