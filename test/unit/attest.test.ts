import { describe, expect, it } from 'vitest';
import { checksumLine, checksumsText } from '../../src/attest/checksums.js';
import { cloneUri } from '../../src/attest/resource-uri.js';
import { verificationStatement } from '../../src/attest/statement.js';
import { driftRecord, recordReport, report, withinToleranceRecord } from '../support/report-fixtures.js';

// The statement's content as a pure function of the report: what is a subject, under which digest, and the result.

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const HASH_C = 'c'.repeat(64);
const context = { resourceUri: 'git+https://github.com/acme/models@0123', policy: { uri: 'models/digits/run.yaml', digest: { sha256: HASH_C } } };
const EXTENSION = 'https://github.com/repro-gate/repro-gate/blob/v1/docs/provenance.md#verification-v1';

describe('verificationStatement', () => {
  it('attests a reproduced record: PASSED, its artifacts as subjects, the VSA fields set', () => {
    const built = verificationStatement(report([recordReport({ recordSha256: HASH_C })]), context)!;
    expect(built.statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://slsa.dev/verification_summary/v1', subject: [{ name: 'out/model.pkl', digest: { sha256: HASH_A } }] });
    expect(built.predicate).toMatchObject({
      verifier: { id: 'https://github.com/repro-gate/repro-gate', version: { 'repro-gate': expect.any(String) } },
      timeVerified: '2026-11-24T00:00:00.000Z',
      resourceUri: context.resourceUri,
      policy: context.policy,
      verificationResult: 'PASSED',
      verifiedLevels: ['REPRO_GATE_REPRODUCED'],
    });
    expect(built.predicate[EXTENSION]).toMatchObject({ verdict: 'reproduced', records: [{ name: 'digits-sgd', recordSha256: HASH_C, environment: { python: '3.11.7', packagesChanged: 0, packagesUnchanged: 12 } }] });
    expect(built.statement.predicate).toBe(built.predicate);
  });

  it('names a within-tolerance artifact by the bytes the rerun produced, and a folder by its dirHash1', () => {
    const within = withinToleranceRecord();
    within.artifacts = [
      { path: 'out/weights.npy', recorded: HASH_A, actual: HASH_B, status: 'within', policy: 'numeric' },
      { path: 'out/tokenizer', kind: 'directory', recorded: HASH_C, actual: HASH_C, status: 'identical' },
    ];
    const built = verificationStatement(report([within]), context)!;
    expect(built.subjects).toEqual([
      { name: 'out/weights.npy', digest: { sha256: HASH_B } },
      { name: 'out/tokenizer', digest: { dirHash1: HASH_C } },
    ]);
    expect(built.predicate.verifiedLevels).toEqual(['REPRO_GATE_WITHIN_TOLERANCE']);
  });

  it('fails on drift or error, naming the recorded artifact (or the record file when nothing ran)', () => {
    const failed = verificationStatement(report([recordReport(), driftRecord()]), context)!;
    expect(failed.predicate).toMatchObject({ verificationResult: 'FAILED', verifiedLevels: ['FAILED'] });
    // Both records name out/model.pkl with the same recorded digest: one subject.
    expect(failed.subjects).toEqual([{ name: 'out/model.pkl', digest: { sha256: HASH_A } }]);
    const broken = recordReport({ verdict: 'error', recordSha256: HASH_C, artifacts: [], error: { message: 'the command failed (exit status 1)' } });
    const errored = verificationStatement(report([broken]), context)!;
    expect(errored.subjects).toEqual([{ name: 'models/digits/run.yaml', digest: { sha256: HASH_C } }]);
    expect(errored.predicate).toMatchObject({ verificationResult: 'FAILED', [EXTENSION]: { records: [{ error: 'the command failed (exit status 1)' }] } });
  });

  it('never speaks for an artifact it does not check (compare: report) or that the rerun did not produce', () => {
    const record = recordReport({
      artifacts: [
        { path: 'out/model.pkl', recorded: HASH_A, actual: HASH_A, status: 'identical' },
        { path: 'out/loss.png', recorded: HASH_B, actual: null, status: 'missing', policy: 'report' },
        { path: 'out/curve.png', recorded: HASH_B, actual: HASH_C, status: 'differs', policy: 'report' },
      ],
    });
    const built = verificationStatement(report([record]), context)!;
    expect(built.predicate.verificationResult).toBe('PASSED');
    expect(built.subjects).toEqual([{ name: 'out/model.pkl', digest: { sha256: HASH_A } }]);
    const gone = verificationStatement(report([recordReport({ verdict: 'drift', recordSha256: HASH_C, artifacts: [{ path: 'out/model', recorded: HASH_A, actual: null, status: 'missing' }] })]), context)!;
    expect(gone.subjects).toEqual([{ name: 'models/digits/run.yaml', digest: { sha256: HASH_C } }]);
  });

  it('never speaks for a record that was not rerun, and makes no statement over none', () => {
    const unaffected = recordReport({ name: 'other', verdict: 'unaffected', artifacts: [{ path: 'out/other.pkl', recorded: HASH_B, actual: null, status: 'missing' }] });
    const built = verificationStatement(report([recordReport(), unaffected]), context)!;
    expect(built.subjects.map((subject) => subject.name)).toEqual(['out/model.pkl']);
    expect(built.predicate[EXTENSION]).toMatchObject({ records: [{ name: 'digits-sgd' }] });
    expect(verificationStatement(report([unaffected]), context)).toBeUndefined();
    expect(verificationStatement(report([recordReport({ verdict: 'error', artifacts: [] })]), context)).toBeUndefined();
  });
});

describe('checksums.txt', () => {
  it('lists file subjects and a folder subject as its files, as sha256sum prints them', () => {
    const subjects = [
      { name: 'out/model.pkl', digest: { sha256: HASH_A } },
      { name: 'out/tokenizer', digest: { dirHash1: HASH_C } },
      { name: 'out/elsewhere', digest: { dirHash1: HASH_B } },
    ];
    const folders = new Map([['out/tokenizer', [{ file: 'a.json', sha256: HASH_B }, { file: 'sub/b.txt', sha256: HASH_C }]]]);
    expect(checksumsText(subjects, folders)).toEqual({
      text: `${HASH_A}  out/model.pkl\n${HASH_B}  out/tokenizer/a.json\n${HASH_C}  out/tokenizer/sub/b.txt\n`,
      leftOut: ['out/elsewhere'],
    });
  });

  it('escapes a name with a backslash or a newline the way GNU sha256sum does', () => {
    expect(checksumLine(HASH_A, 'out/a\\b\nc')).toBe(`\\${HASH_A}  out/a\\\\b\\nc\n`);
  });
});

describe('cloneUri', () => {
  it.each([
    ['git@github.com:acme/models.git', 'ssh://git@github.com/acme/models.git'],
    ['https://x-access-token:ghs_secret@github.com/acme/models', 'https://github.com/acme/models'],
    ['ssh://git@example.com:2222/acme/models.git', 'ssh://git@example.com:2222/acme/models.git'],
  ])('%s is named %s', (url, uri) => {
    expect(cloneUri(url)).toBe(uri);
  });
});
