import { describe, expect, it } from 'vitest';
import { includesOtherFiles } from '../../src/environment/local-requirements.js';
import { decideAffected } from '../../src/inputs/affected/affected.js';
import { structuralChanges } from '../../src/inputs/affected/structural-changes.js';
import { watchedChanges } from '../../src/inputs/affected/watched.js';
import type { RawChange } from '../../src/git.js';
import { exitCodeFor } from '../../src/pipeline/exit-code.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type InputCheck, ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { worstVerdict } from '../../src/report/verdict-order.js';
import { recordReport, report } from '../support/report-fixtures.js';

const H = (c: string) => c.repeat(64);
const input = (kind: InputCheck['kind'], file: string, status: InputCheck['status'] = 'match'): InputCheck => ({ kind, path: file, recorded: H('a'), actual: status === 'missing' ? null : H(status === 'match' ? 'a' : 'b'), status });

describe('deciding whether a record is affected', () => {
  const facts = {
    learnedFiles: 30,
    inputs: [input('config', 'c.yaml'), input('data', 'd.csv')],
    watchedChanges: [],
    watched: false,
    recordChanged: false,
    structuralChanges: [],
    environmentGap: undefined,
  };

  it('is unaffected when nothing it reads changed, and counts every input it looked at', () => {
    expect(decideAffected(facts)).toEqual({ affected: false, reason: 'not rerun: none of its 32 inputs changed since it was recorded', inputs: 32 });
  });

  it('is affected by a changed or deleted input, a changed record, a watched file, or the lack of a learned set', () => {
    expect(decideAffected({ ...facts, inputs: [...facts.inputs, input('code', 'src/model.py', 'mismatch'), input('code', 'src/gone.py', 'missing')] }).reason).toBe('rerun: 2 inputs changed since it was recorded (src/model.py, src/gone.py)');
    expect(decideAffected({ ...facts, recordChanged: true }).reason).toBe('rerun: the record itself changed since the base');
    expect(decideAffected({ ...facts, watched: true, watchedChanges: ['vendor/tool.c'] }).reason).toBe('rerun: watched files changed since code.commit (vendor/tool.c)');
    expect(decideAffected({ ...facts, watched: true, watchedChanges: undefined }).reason).toMatch(/code\.commit is not in this clone/);
    expect(decideAffected({ ...facts, learnedFiles: undefined }).affected).toBe(true);
    expect(decideAffected({ ...facts, learnedFiles: 0 }).affected).toBe(true);
    expect(decideAffected({ ...facts, inputs: [input('data', 'd.csv', 'manifest-mismatch')] }).affected).toBe(true);
  });

  it('reruns on every doubt: no base for the record, new or re-linked files, an environment the record cannot pin', () => {
    expect(decideAffected({ ...facts, recordChanged: undefined }).reason).toMatch(/no base to compare the record itself with/);
    expect(decideAffected({ ...facts, structuralChanges: ['json.py'] }).reason).toBe(
      'rerun: files were added, renamed or re-linked since code.commit (json.py): a new file can shadow a module or be found by a directory scan',
    );
    expect(decideAffected({ ...facts, structuralChanges: undefined }).reason).toMatch(/new files since it cannot be found/);
    expect(decideAffected({ ...facts, environmentGap: 'the record has no requirements' }).reason).toBe('rerun: the record has no requirements');
  });
});

describe('changes since the record\'s commit, from one git diff', () => {
  const change = (file: string, status: string, extra: Partial<RawChange> = {}): RawChange => ({ path: file, status, oldMode: '100644', newMode: '100644', ...extra });
  const changes = [
    change('src/model.py', 'M'),
    change('src/json.py', 'A'),
    change('notes.txt', '?'),
    change('native/new.c', 'R', { from: 'native/old.c' }),
    change('configs/current', 'M', { oldMode: '120000', newMode: '120000' }),
    change('.gitignore', 'M'),
    change('out/model.bin', 'A'),
    change('run.yaml', 'A'),
  ];

  it('new, renamed, re-linked files and copy rules are structural; outputs and the record are not', () => {
    expect(structuralChanges(changes, ['out', 'run.yaml'])).toEqual(['.gitignore', 'configs/current', 'native/new.c', 'notes.txt', 'src/json.py']);
    expect(structuralChanges(undefined, [])).toBeUndefined();
  });

  it('with the folders the run listed, a file added or removed counts only where a listing would show it', () => {
    const scope = {
      listed: new Set(['.', 'src', 'data/images', 'experiments']),
      foldersAtCommit: new Set(['.', 'src', 'data', 'data/images', 'docs', 'models', 'models/a', 'native', 'experiments', 'experiments/x']),
      // Of the folders above a removed file, those still there.
      foldersNow: new Set(['.', 'src', 'data', 'models', 'models/a', 'experiments']),
    };
    const moved = [
      change('src/json.py', 'A'), // beside the modules the import system searched: could shadow one
      change('docs/guide.md', 'A'), // a folder no one listed
      change('models/b/run.yaml', 'A'), // a new folder inside an unlisted one
      change('newpkg/__init__.py', 'A'), // a new folder inside the root, which was listed: the listing shows `newpkg`
      change('data/images/deep/x.png', '?'), // a new folder inside a listed one
      change('data/old.csv', 'D'), // removed from a folder no one listed
      change('models/a/old.txt', 'D'), // removed from a folder no one listed, which stays
      change('experiments/x/run.log', 'D'), // its folder is gone from a listed one: the listing changed
      change('src/gone.py', 'D'), // removed from a listed folder
      change('native/new.c', 'R', { from: 'src/old.c' }), // renamed out of a listed folder
      change('models/a/notes.txt', 'M'), // changed, not added: learned hashes cover what was read
      change('models/a/link', 'M', { oldMode: '120000', newMode: '120000' }), // re-linked: always counts
      change('docs/.gitignore', 'M'), // changes what the sandbox copy holds: always counts
      change('run.yaml', 'A'),
    ];
    expect(structuralChanges(moved, ['run.yaml'], scope)).toEqual(['data/images/deep/x.png', 'docs/.gitignore', 'experiments/x/run.log', 'models/a/link', 'newpkg/__init__.py', 'src/gone.py', 'src/json.py', 'src/old.c']);
    // Without the scope, every added file counts and removed ones do not.
    expect(structuralChanges(moved, ['run.yaml'])).toEqual(['data/images/deep/x.png', 'docs/.gitignore', 'docs/guide.md', 'models/a/link', 'models/b/run.yaml', 'native/new.c', 'newpkg/__init__.py', 'src/json.py']);
  });

  it('watched globs match a file at its path now or, renamed, at the one it had', () => {
    expect(watchedChanges(changes, ['native/old.c'])).toEqual(['native/new.c']);
    expect(watchedChanges(changes, ['src/**/*.py'])).toEqual(['src/model.py', 'src/json.py']);
    expect(watchedChanges(undefined, ['x'])).toBeUndefined();
    expect(watchedChanges(undefined, [])).toEqual([]);
  });
});

describe('requirements that pull in other files', () => {
  it('are told apart from plain pins, so a record using them is always rerun', () => {
    expect(includesOtherFiles('-r base.txt\nnumpy==2.2.6\n')).toBe(true);
    expect(includesOtherFiles('numpy==2.2.6\n-c constraints.txt\n')).toBe(true);
    expect(includesOtherFiles('--requirement=base.txt\n')).toBe(true);
    expect(includesOtherFiles('-rbase.txt\n')).toBe(true);
    expect(includesOtherFiles('numpy==2.2.6\n# -r is mentioned in a comment\nrequests[socks]==2.32.3\n')).toBe(false);
  });
});

describe('the unaffected verdict', () => {
  const unaffected = recordReport({ name: 'b', verdict: 'unaffected', affected: { affected: false, reason: 'not rerun: none of its 37 inputs changed since it was recorded', inputs: 37 } });

  it('passes, and is as mild as can be: any record that was rerun says more', () => {
    expect(exitCodeFor('unaffected')).toBe(0);
    expect(worstVerdict(['unaffected', 'unaffected'])).toBe('unaffected');
    expect(worstVerdict(['unaffected', 'reproduced'])).toBe('reproduced');
    expect(worstVerdict(['drift', 'unaffected'])).toBe('drift');
  });

  it('is listed in one collapsed line of the comment, and explained in the terminal', () => {
    const full = ReportSchema.parse(report([recordReport({ name: 'a' }), unaffected, { ...unaffected, name: 'c' }], 'reproduced'));
    const markdown = renderMarkdown(full);
    expect(markdown).toContain('<details><summary>⏭️ 2 records not rerun: none of their inputs changed since they were recorded</summary>');
    expect(markdown).toContain('b (37 inputs) · c (37 inputs)');
    expect(markdown).not.toContain('### ⏭️');
    expect(markdown).toContain('1 reproduced, 2 unaffected');
    expect(renderTerminal(full)).toContain('- b: unaffected  (models/digits/run.yaml)\n  not rerun: none of its 37 inputs changed since it was recorded');
  });
});
