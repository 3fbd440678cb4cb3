import { describe, expect, it } from 'vitest';
import { likelyCauses } from '../../src/explain/causes.js';
import { codeFence, escapeInline } from '../../src/report/escape.js';
import { fitBytes, fitMarkdown } from '../../src/report/fit.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { mergeReports } from '../../src/report/merge.js';
import { ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { driftRecord, recordReport, report, withinToleranceRecord } from '../support/report-fixtures.js';

const openDetails = (text: string) => (text.match(/<details/g) ?? []).length - (text.match(/<\/details>/g) ?? []).length;

describe('mergeReports: three records from three matrix jobs', () => {
  const merged = mergeReports([report([driftRecord()]), report([recordReport()]), report([withinToleranceRecord()])], '2026-11-24T10:00:00.000Z');

  it('takes the worst verdict and orders records by path', () => {
    expect(merged.verdict).toBe('drift');
    expect(merged.records.map((record) => [record.recordPath, record.verdict])).toEqual([
      ['models/digits/run.yaml', 'reproduced'],
      ['models/iris/run.yaml', 'within-tolerance'],
      ['models/wine/run.yaml', 'drift'],
    ]);
    expect(ReportSchema.parse(merged)).toEqual(merged);
  });

  it('renders one comment with the combined headline and every record', () => {
    const markdown = renderMarkdown(merged);
    expect(markdown.split('\n')[0]).toBe('## ❌ repro-gate: drift');
    expect(markdown).toContain('3 records: 1 reproduced, 1 within tolerance, 1 drift');
    expect(markdown).toContain('### ✅ digits-sgd: reproduced');
    expect(markdown).toContain('### 🟡 iris-sgd: within tolerance');
    expect(markdown).toContain('### ❌ wine-mlp: drift');
    expect(markdown).toMatch(/\| accuracy \| 0\.9356 \| 0\.91 \| -0\.0256 \| ±0\.005 \| ❌ beyond \|/);
    expect(markdown).toMatch(/\| out\/model\.pkl \| `aaaaaaaaaaaa` \| `bbbbbbbbbbbb` \| ❌ differs \|/);
    expect(markdown).toContain('requirements requirements.txt changed');
    expect(markdown.indexOf('digits-sgd')).toBeLessThan(markdown.indexOf('iris-sgd'));
  });

  it('is reproduced only when every record is', () => {
    expect(mergeReports([report([recordReport()]), report([recordReport({ recordPath: 'b/run.yaml' })])], 'x').verdict).toBe('reproduced');
    expect(mergeReports([report([recordReport()]), report([withinToleranceRecord()])], 'x').verdict).toBe('within-tolerance');
  });

  it('turns an expected record without a report into an error, never a silent pass', () => {
    const partial = mergeReports([report([recordReport()])], 'x', ['./models/digits/run.yaml', 'models/lost/run.yaml']);
    expect(partial.verdict).toBe('error');
    expect(partial.records.map((record) => [record.recordPath, record.verdict])).toEqual([
      ['models/digits/run.yaml', 'reproduced'],
      ['models/lost/run.yaml', 'error'],
    ]);
    expect(renderMarkdown(partial)).toContain('no report arrived for this record');
    expect(mergeReports([], 'x', ['a/run.yaml']).records).toHaveLength(1);
  });
});

describe('escaping untrusted strings', () => {
  const hostile = [
    '@octocat please merge',
    '[click](https://evil.example)',
    '<img src=x onerror=alert(1)>',
    '<!-- repro-gate:sticky:0000 -->',
    'a | b | c',
    '# heading\n- list',
    '**bold** _it_ `code` ~strike~',
    'www.evil.example and https://evil.example',
    '\u001b[31mred\u001b[0m',
  ];

  it.each(hostile)('%j is inert inline markdown', (text) => {
    const out = escapeInline(text);
    expect(out).not.toMatch(/@\w/);
    expect(out).not.toMatch(/[^\\]\]\(/);
    expect(out).not.toMatch(/<[a-z!]/i);
    expect(out).not.toMatch(/(^|[^\\])\|/);
    expect(out).not.toContain('\n');
    expect(out).not.toMatch(/https?:\/\//);
    expect(out).not.toMatch(/www\.\w/i);
    expect(out).not.toContain('\u001b');
  });

  it.each([
    ['3.11.7', '3.11.7'],
    ['1. first', '1\\. first'],
    ['# title', '\\# title'],
    ['- item', '\\- item'],
    ['-0.5', '-0.5'],
    ['> quote', '&gt; quote'],
    ['fixes #12', 'fixes #\u200b12'],
    ['octo/repo#7', 'octo/repo#\u200b7'],
    ['see GH-42', 'see GH\u200b-42'],
  ])('escapes block markers only where they would start a block: %j', (text, expected) => {
    expect(escapeInline(text)).toBe(expected);
  });

  it('caps length', () => {
    expect(escapeInline('x'.repeat(10_000)).length).toBeLessThanOrEqual(300);
  });

  it('fences logs so no backtick run inside can close the fence', () => {
    const fenced = codeFence('before\n````\n@octocat [x](https://e.example)\n', 1000);
    const fence = fenced.split('\n')[0]!.replace('text', '');
    expect(fence.length).toBeGreaterThan(4);
    expect(fenced.endsWith(`\n${fence}`)).toBe(true);
  });

  it('neutralises a hostile record name, metric, path and log in the rendered comment', () => {
    const evil = recordReport({
      name: '@octocat [pwn](https://evil.example)',
      metrics: [{ name: '<script>x</script>', recorded: 1, rerun: 2, delta: 1, tolerance: { abs: 0, rel: 0 }, status: 'beyond' }],
      artifacts: [{ path: 'out/|x|.pkl', recorded: 'a'.repeat(64), actual: null, status: 'missing' }],
      verdict: 'drift',
      run: { command: 'python train.py', workdir: '.', exitCode: 0, signal: null, timedOut: false, durationMs: 1, logTail: '```\n@team ping\n', logPath: null },
    });
    const markdown = renderMarkdown(report([evil], 'drift'));
    const outsideFences = markdown.replace(/(`{3,})text\n[\s\S]*?\n\1/g, '');
    expect(outsideFences).not.toMatch(/@(octocat|team)/);
    expect(markdown).not.toContain('[pwn](https://evil');
    expect(markdown).not.toContain('<script>');
  });
});

describe('fitting a report into a size limit', () => {
  const huge = recordReport({
    verdict: 'drift',
    metrics: Array.from({ length: 3000 }, (_, i) => ({ name: `layer_${i}.norm`, recorded: i, rerun: i + 1, delta: 1, tolerance: { abs: 0, rel: 0 }, status: 'beyond' as const })),
    environment: {
      python: { actual: '3.11.7' },
      platform: { actual: 'linux-x86_64' },
      venv: null,
      packages: { added: [], removed: [], unchanged: 0, changed: Array.from({ length: 400 }, (_, i) => ({ name: `pkg${i}`, recorded: '1.0', actual: '2.0' })) },
    },
    run: { command: 'python train.py', workdir: '.', exitCode: 0, signal: null, timedOut: false, durationMs: 1, logTail: 'log line\n'.repeat(1500), logPath: null },
  });
  const big = report([huge], 'drift');
  const hint = 'Full report: the job summary.';

  it('returns the full report when it fits', () => {
    const small = report([recordReport()]);
    expect(fitMarkdown(small, 65_536, { fullReportHint: hint })).toBe(renderMarkdown(small, { fullReportHint: hint }));
  });

  it('drops logs first, then the environment diff, and says where the full report is', () => {
    const full = renderMarkdown(big);
    const noLogs = renderMarkdown(big, { detail: 'no-logs' });
    const withoutLogs = fitMarkdown(big, noLogs.length + 200, { fullReportHint: hint });
    expect(withoutLogs).not.toContain('Rerun log');
    expect(withoutLogs).toContain('pkg399');
    expect(withoutLogs).toContain(hint);
    expect(full.length).toBeGreaterThan(withoutLogs.length);
    const compact = fitMarkdown(big, noLogs.length - 1, { fullReportHint: hint });
    expect(compact).not.toContain('pkg399');
    expect(compact).toContain('## ❌ repro-gate: drift');
  });

  it.each([65_536, 20_000, 5_000, 2_000, 800])('stays within %i characters with balanced <details> and the verdict kept', (limit) => {
    const fitted = fitMarkdown(big, limit, { fullReportHint: hint });
    expect(fitted.length).toBeLessThanOrEqual(limit);
    expect(openDetails(fitted)).toBe(0);
    expect(fitted.startsWith('## ❌ repro-gate: drift')).toBe(true);
    expect(fitted).toContain('job summary');
  });

  it('counts UTF-8 bytes for the job summary', () => {
    const wide = report([recordReport({ verdict: 'drift', run: { ...huge.run!, logTail: 'é€'.repeat(3000) } })], 'drift');
    const fitted = fitBytes(wide, 6_000, { fullReportHint: hint });
    expect(Buffer.byteLength(fitted, 'utf8')).toBeLessThanOrEqual(6_000);
  });
});

describe('the report schema (untrusted input)', () => {
  it('rejects unknown fields, oversized strings and bad verdicts', () => {
    const good = report([recordReport()]);
    expect(ReportSchema.safeParse(good).success).toBe(true);
    expect(ReportSchema.safeParse({ ...good, pull_request: 999 }).success).toBe(false);
    expect(ReportSchema.safeParse(report([recordReport({ name: 'x'.repeat(2_001) })])).success).toBe(false);
    expect(ReportSchema.safeParse({ ...good, verdict: 'fine' }).success).toBe(false);
    expect(ReportSchema.safeParse(report([{ ...recordReport(), extra: true } as never])).success).toBe(false);
  });
});

describe('the terminal summary', () => {
  it('names each record with its verdict and strips escape sequences', () => {
    const text = renderTerminal(report([recordReport({ name: 'evil\u001b[2J' }), driftRecord()], 'drift'), { color: false });
    expect(text).toMatch(/drift/);
    expect(text).toContain('wine-mlp');
    expect(text).not.toContain('\u001b');
  });
});

describe('likely causes from code changes', () => {
  const code = { recordedCommit: '2bad669aa73a0000', scope: 'models/iris', changedFiles: ['models/iris/train.py', 'README.md'], changedFilesTotal: 76, changedInScope: 1 };

  it('counts the files changed next to the training code apart from the rest of the repository', () => {
    expect(likelyCauses({ inputs: [], code })).toEqual([{ kind: 'code-changed', subject: '1 file changed in models/iris since 2bad669aa73a (76 in the repository)' }]);
    expect(likelyCauses({ inputs: [], code: { ...code, scope: '.' } })[0]?.subject).toBe('76 files changed since 2bad669aa73a');
    expect(likelyCauses({ inputs: [], code: { ...code, changedFiles: [] } })).toEqual([]);
  });

  it('lists the changed files once, in the cause line', () => {
    const record = recordReport({ verdict: 'drift', code, causes: likelyCauses({ inputs: [], code }) });
    const markdown = renderMarkdown(report([record], 'drift'));
    expect(markdown).toContain('- 1 file changed in models/iris since 2bad669aa73a (76 in the repository): models/iris/train.py\n');
    expect(markdown).not.toContain('README.md');
    const unscoped = renderMarkdown(report([{ ...record, code: { ...code, scope: '.' } }], 'drift'));
    expect(unscoped).toContain(': models/iris/train.py, README.md, and 74 more');
  });
});
