import { execFileSync } from 'node:child_process';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import path from 'node:path';
import { recordReport, report } from '../report-fixtures.js';
import { type Ctx, type Row, verifyArgs } from './harness.js';
import { baseRecord, HI, OUTPUTS, sha256 } from './records.js';

// The command line and the commands around verify: flags that must fail before any training runs (the command
// would leave a marker), `record` and `record --update` that must write nothing when they fail, `merge` of report
// files that may come from a fork (tampered, oversized, not files at all), and environment builds that fail.

/** A command that leaves a marker outside the repository: it must never run. */
const MARK = (ctx: Ctx) => `touch ${path.join(ctx.outside, 'trained')} && ${OUTPUTS}`;
const TRAINED = (ctx: Ctx) => [path.join(ctx.outside, 'trained')];
const record = (ctx: Ctx, ...flags: string[]) => ['record', '--current-env', '--artifact', 'out/a.txt', ...flags, '--', MARK(ctx)];

/** A valid report file, as `verify --json` writes it, to tamper with. */
const validReport = (name = 'tiny') => report([recordReport({ name, recordPath: 'run.yaml' })]);
const writeJson = (ctx: Ctx, name: string, value: unknown) => writeFile(path.join(ctx.outside, name), typeof value === 'string' ? value : JSON.stringify(value));
const merge = (ctx: Ctx, ...targets: string[]) => ['merge', ...targets.map((target) => path.join(ctx.outside, target)), '--json', ctx.json, '--markdown', ctx.markdown];

/** Over any sensible per-report cap (verify's own reports are a few MB even with 10,000 metrics). */
const OVERSIZED_REPORT_BYTES = 70 * 2 ** 20;

const REQUIREMENTS = ['# pins for the hostile corpus', ...Array.from({ length: 40 }, (_, i) => `# comment line ${i}`), 'six==1.17.0', '', 'numpy==0.0.0', ''].join('\n');

export const CLI_ROWS: Row[] = [
  {
    name: 'an unknown verify flag is named',
    record: baseRecord(),
    args: ['verify', '--jsno', 'report.json', 'run.yaml'],
    expect: { status: 2, culprit: [/--jsno/] },
  },
  {
    name: 'an unknown command is named',
    args: ['verfy', 'run.yaml'],
    expect: { status: 2, culprit: [/verfy/] },
  },
  {
    name: 'verify without a record says what is missing',
    args: ['verify'],
    expect: { status: 2, culprit: [/record/] },
  },
  {
    name: "record --name 'Bad Name' fails before the training runs",
    args: (ctx) => record(ctx, '--name', 'Bad Name'),
    expect: { status: 2, culprit: [/--name/, /Bad Name/], absent: TRAINED },
  },
  {
    name: 'record --timeout 5x fails before the training runs',
    args: (ctx) => record(ctx, '--timeout', '5x'),
    expect: { status: 2, culprit: [/--timeout/, /5x/], absent: TRAINED },
  },
  {
    name: 'record --timeout 1000h fails before the training runs (as timeout: 1000h does in a record)',
    args: (ctx) => record(ctx, '--timeout', '1000h'),
    expect: { status: 2, culprit: [/--timeout/, /1000h/], absent: TRAINED },
  },
  {
    name: 'record with an unknown flag fails before the training runs',
    args: (ctx) => record(ctx, '--bogus'),
    expect: { status: 2, culprit: [/--bogus/], absent: TRAINED },
  },
  {
    name: 'record --seed with a bad name fails before the training runs',
    args: (ctx) => record(ctx, '--seed', 'bad-name=1'),
    expect: { status: 2, culprit: [/--seed/, /bad-name/], absent: TRAINED },
  },
  {
    name: 'record --data with a missing file fails before the training runs',
    args: (ctx) => record(ctx, '--data', 'data/missing.csv'),
    expect: { status: 2, culprit: [/data\/missing\.csv/], absent: TRAINED },
  },
  {
    name: 'record --artifact escaping the repository with .. fails before the training runs',
    args: (ctx) => ['record', '--current-env', '--artifact', '../escape.bin', '--', MARK(ctx)],
    expect: { status: 2, culprit: [/\.\.\/escape\.bin/], absent: TRAINED },
  },
  {
    name: 'record --artifact that is a tracked link leading outside the repository is refused before the training runs',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'model.pkl'), HI);
      return { '.gitignore': 'out/\n', 'model.pkl': { symlink: path.join(ctx.outside, 'model.pkl') } };
    },
    args: (ctx) => ['record', '--current-env', '--artifact', 'model.pkl', '--', `touch ${path.join(ctx.outside, 'trained')} && printf 'hi\\n' > model.pkl`],
    expect: { status: 2, culprit: [/model\.pkl/], absent: TRAINED },
  },
  {
    name: 'record: an artifact the command makes a link leading outside the repository is refused, nothing written',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'secret.txt'), HI);
      return { '.gitignore': 'out/\n' };
    },
    args: (ctx) => ['record', '--current-env', '--artifact', 'out/a.txt', '--', `mkdir -p out && ln -s ${path.join(ctx.outside, 'secret.txt')} out/a.txt`],
    expect: { status: 2, culprit: [/out\/a\.txt/] },
  },
  {
    name: 'record: a command that writes into the repository by absolute path is refused, no record written',
    files: { '.gitignore': 'out/\n', 'notes.txt': 'tracked notes\n' },
    args: (ctx) => ['record', '--current-env', '--artifact', 'out/a.txt', '--', `printf 'changed\\n' >> ${ctx.root}/notes.txt && ${OUTPUTS}`],
    expect: { status: 2, culprit: [], escape: { paths: ['notes.txt'], clean: { status: 0, culprit: [/Recorded/] } } },
  },
  {
    name: 'record --update of a record with an unknown field names it and rewrites nothing',
    record: baseRecord({ bogus: 1 }),
    args: ['record', '--update', 'run.yaml'],
    expect: { status: 2, culprit: [/bogus/] },
  },
  {
    name: 'record --update of a record that does not exist names it',
    args: ['record', '--update', 'nothere.yaml'],
    expect: { status: 2, culprit: [/nothere\.yaml/] },
  },
  {
    name: 'record --update whose command fails rewrites nothing',
    record: baseRecord({ command: `${OUTPUTS} && exit 3`, artifacts: [{ path: 'out/a.txt', sha256: 'b'.repeat(64) }] }),
    args: ['record', '--update', 'run.yaml'],
    expect: { status: 2, culprit: [/command/, /exit status 3/] },
  },
  {
    name: 'verify --python with an interpreter that does not exist names it',
    files: { '.gitignore': 'out/\n', 'requirements.txt': 'six==1.17.0\n' },
    record: baseRecord({ environment: { python: '3.11', requirements: 'requirements.txt', requirements_sha256: sha256('six==1.17.0\n') } }),
    args: (ctx) => verifyArgs(ctx, 'run.yaml', ['--python', '/nonexistent/python3']),
    expect: { status: 2, culprit: [/\/nonexistent\/python3/] },
  },
  {
    name: 'pip install failure: the message names the failing pin, the last of many lines',
    files: { '.gitignore': 'out/\n', 'requirements.txt': REQUIREMENTS },
    record: baseRecord({ environment: { python: '3.11', requirements: 'requirements.txt', requirements_sha256: sha256(REQUIREMENTS) } }),
    limitSeconds: 120,
    expect: { status: 2, culprit: [/requirements\.txt/, /numpy==0\.0\.0/] },
  },

  // ── merge: report files from other jobs, maybe from a fork ─────────────────────────────────────────────────
  {
    name: 'merge of a tampered report (an unknown field) names the file and the field',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', { ...validReport(), records: [{ ...recordReport({ recordPath: 'run.yaml' }), pwned: true }] }),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 2, culprit: [/report\.json/, /pwned|records\[0\]/] },
  },
  {
    name: 'merge of a report whose verdict was tampered to "reproduced" keeps the records\' drift',
    afterCommit: (ctx) =>
      writeJson(ctx, 'report.json', { ...validReport(), verdict: 'reproduced', records: [recordReport({ name: 'tampered', recordPath: 'run.yaml', verdict: 'drift', artifacts: [{ path: 'out/a.txt', recorded: 'a'.repeat(64), actual: 'b'.repeat(64), status: 'differs' }] })] }),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 1, culprit: [/tampered/, /drift/], verdict: 'drift' },
  },
  {
    name: 'merge of an oversized report (70 MiB) names its size, in bounded memory',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', `{"schemaVersion": 1, "pad": "${'x'.repeat(OVERSIZED_REPORT_BYTES)}"}`),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 2, culprit: [/report\.json/, /7340\d{4} bytes|70(\.\d+)? ?MiB|73(\.\d+)? ?MB/], maxRssMB: 500 },
  },
  {
    name: 'merge of a report that is not JSON names the file',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', '{"schemaVersion": 1, '),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 2, culprit: [/report\.json/, /JSON/] },
  },
  {
    name: 'merge of a report with a __proto__ key is refused',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', JSON.stringify(validReport()).replace('{', '{"__proto__": {"verdict": "reproduced"}, ')),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 2, culprit: [/report\.json/] },
  },
  {
    name: 'merge of 201 records in one report is refused',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', report(Array.from({ length: 201 }, (_, i) => recordReport({ name: `r${i}`, recordPath: `m${i}/run.yaml` })))),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: { status: 2, culprit: [/report\.json/, /records/] },
  },
  {
    name: 'merge of a report that is a FIFO: named, quickly',
    afterCommit: async (ctx) => {
      execFileSync('mkfifo', [path.join(ctx.outside, 'report.json')]);
    },
    args: (ctx) => merge(ctx, 'report.json'),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/report\.json/], maxSeconds: 10 },
  },
  {
    name: 'merge of a report that is a link to /dev/zero: named, quickly, in bounded memory',
    afterCommit: (ctx) => symlink('/dev/zero', path.join(ctx.outside, 'report.json')),
    args: (ctx) => merge(ctx, 'report.json'),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/report\.json/], maxSeconds: 10, maxRssMB: 500 },
  },
  {
    name: 'merge of a folder holding a link to a report outside it is refused or ignored, never followed',
    afterCommit: async (ctx) => {
      await writeJson(ctx, 'elsewhere.json', report([recordReport({ name: 'smuggled', recordPath: 'run.yaml' })]));
      execFileSync('mkdir', ['-p', path.join(ctx.outside, 'reports')]);
      await writeJson(ctx, 'reports/real.json', validReport('real'));
      await symlink(path.join(ctx.outside, 'elsewhere.json'), path.join(ctx.outside, 'reports', 'link.json'));
    },
    args: (ctx) => merge(ctx, 'reports'),
    expect: {
      status: [0, 2],
      culprit: [/real|link\.json/],
      check: (result, _ctx, fail) => {
        if (result.report?.records.some((record) => record.name === 'smuggled')) fail('merge followed a link out of the reports folder');
      },
    },
  },
  {
    name: 'an unknown merge flag is named',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', validReport()),
    args: (ctx) => ['merge', path.join(ctx.outside, 'report.json'), '--markdwon', ctx.markdown],
    expect: { status: 2, culprit: [/--markdwon/] },
  },
  {
    name: 'merge of a path that does not exist names it',
    args: (ctx) => merge(ctx, 'nowhere'),
    expect: { status: 2, culprit: [/nowhere/] },
  },
  {
    name: 'merge with --expect for a record that has no report names the record',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', validReport()),
    args: (ctx) => [...merge(ctx, 'report.json'), '--expect', 'models/missing/run.yaml'],
    expect: { status: 2, culprit: [/models\/missing\/run\.yaml/] },
  },
  {
    name: 'merge renders a record name carrying HTML and mentions inert',
    afterCommit: (ctx) => writeJson(ctx, 'report.json', report([recordReport({ name: '<img src=x onerror=alert(1)> @everyone', recordPath: 'run.yaml' })])),
    args: (ctx) => merge(ctx, 'report.json'),
    expect: {
      status: 0,
      culprit: [/img/],
      check: async (_result, ctx, fail) => {
        const markdown = await readFile(ctx.markdown, 'utf8').catch(() => '');
        if (!markdown) fail('no markdown report');
        if (markdown.includes('<img') || markdown.includes('@everyone')) fail('the markdown report carries the HTML or the mention as it was written');
      },
    },
  },
  {
    name: 'a record in a subfolder whose ../ paths stay inside the repository simply works',
    files: { '.gitignore': 'out/\n', 'shared/rows.csv': 'a,b\n1,2\n', 'models/m1/.keep': '' },
    afterCommit: async (ctx) => {
      await writeFile(
        path.join(ctx.root, 'models', 'm1', 'run.yaml'),
        stringify({
          ...baseRecord({ command: `mkdir -p ../out && cp ../shared/rows.csv ../out/a.txt && printf '{"acc": 0.9}' > ../out/m.json` }),
          workdir: '..',
          data: [{ path: '../../shared/rows.csv', sha256: sha256('a,b\n1,2\n') }],
          artifacts: [{ path: '../../out/a.txt', sha256: sha256('a,b\n1,2\n') }],
          metrics: { path: '../../out/m.json', values: { acc: 0.9 } },
        }),
      );
    },
    args: (ctx) => verifyArgs(ctx, 'models/m1/run.yaml'),
    expect: { status: 0, culprit: [/reproduced/], verdict: 'reproduced' },
  },
  {
    name: 'an empty repository (git init, nothing committed) simply works',
    repo: 'git-no-commit',
    record: baseRecord(),
    expect: { status: 0, culprit: [/reproduced/], verdict: 'reproduced' },
  },
  {
    name: 'a folder that is not a git repository simply works',
    repo: 'plain',
    record: baseRecord(),
    expect: { status: 0, culprit: [/reproduced/], verdict: 'reproduced' },
  },
  {
    name: 'an empty folder, no record: names run.yaml',
    repo: 'plain',
    files: {},
    expect: { status: 2, culprit: [/run\.yaml/] },
  },
];

