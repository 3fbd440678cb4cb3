import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createRecordedRepo, editRecord, type FixtureRepo, fixtureRepo, git, PROJECT_ROOT, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
import { sharedVenvPython } from '../support/shared-venv.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// The audit trail through the bundled CLI: the verification statement checked by the upstream in-toto package and a
// committed JSON Schema, its subjects against coreutils, and reruns at the recorded commit.

const IN_TOTO_PINS = ['in-toto-attestation==0.9.3', 'protobuf==7.36.2'];

/** Parses the statement with the in-toto-attestation protos and runs its own validation, then reads the VSA fields. */
const VALIDATE_PY = `
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
doc = json.load(open(sys.argv[1]))
statement = Statement.copy_from_pb(json_format.ParseDict(doc, statement_pb2.Statement()))
statement.validate()
# in-toto-attestation 0.9.3 (the latest release) still declares verifiedLevels a single string; the spec, and the
# package's main branch since "vsa: Make verifiedLevels field repeated to match spec", make it a list. The list is
# checked by the JSON Schema; every other VSA field by the release's proto.
predicate = {key: value for key, value in doc["predicate"].items() if key != "verifiedLevels"}
vsa = json_format.ParseDict(predicate, vsa_pb2.VerificationSummary(), ignore_unknown_fields=True)
print(json.dumps({"subjects": len(statement.pb.subject), "verifier": vsa.verifier.id, "result": vsa.verification_result,
  "policy": vsa.policy.uri, "resource": vsa.resource_uri, "time": vsa.time_verified.ToJsonString()}))
`;

let cacheRoot: string;
let validateStatement: (file: string) => boolean;
let recorded: FixtureRepo;

/** A copy of one recorded repository (.git and the recorded outputs included): recording it again for each test costs seconds. */
async function newRepo(): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-repo-'));
  await cp(recorded.root, root, { recursive: true, verbatimSymlinks: true });
  return fixtureRepo(root, recorded.env);
}

beforeAll(async () => {
  cacheRoot = await recordingCacheRoot();
  recorded = await createRecordedRepo({ cacheRoot });
  const schema = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'test', 'fixtures', 'in-toto-vsa-statement.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = ajv.compile(schema);
  validateStatement = (file: string) => {
    const valid = validate(JSON.parse(readFileSync(file, 'utf8')));
    if (!valid) throw new Error(JSON.stringify(validate.errors));
    return valid;
  };
});

async function upstreamCheck(statementFile: string): Promise<Record<string, any>> {
  const python = await sharedVenvPython(IN_TOTO_PINS, { pip: false });
  return JSON.parse(execFileSync(python, ['-c', VALIDATE_PY, statementFile], { encoding: 'utf8' }));
}

async function verifyWithEvidence(repo: FixtureRepo, args: string[] = []) {
  const evidence = await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-'));
  const result = await verifyUntouched(repo, ['--evidence-dir', evidence, ...args]);
  const read = (name: string) => readFile(path.join(evidence, name), 'utf8');
  return { ...result, evidence, read, statement: await read('provenance.json').then((text) => JSON.parse(text), () => undefined) };
}

const sha256sum = (cwd: string, file: string) => execFileSync('sha256sum', [file], { cwd, encoding: 'utf8' }).split(' ')[0];

describe('verification statement', () => {
  it('attests a reproduced model: valid for in-toto and the schema, digests equal sha256sum, checksums.txt passes sha256sum -c', async () => {
    const repo = await newRepo();
    const run = await verifyWithEvidence(repo);
    expect(run.status).toBe(0);
    const file = path.join(run.evidence, 'provenance.json');
    expect(validateStatement(file)).toBe(true);
    const upstream = await upstreamCheck(file);
    expect(upstream).toMatchObject({ subjects: 1, verifier: 'https://github.com/repro-gate/repro-gate', result: 'PASSED', policy: 'run.yaml' });
    expect(run.statement.predicate.verifiedLevels).toEqual(['REPRO_GATE_REPRODUCED']);
    expect(Date.parse(upstream.time)).toBe(Date.parse(run.report!.createdAt));
    const head = git(repo.root, 'rev-parse', 'HEAD').trim();
    expect(upstream.resource).toBe(`git+${new URL(`file://${repo.root}`).toString()}@${head}`);
    expect(run.statement.subject).toEqual([{ name: 'out/model.json', digest: { sha256: sha256sum(repo.root, 'out/model.json') } }]);
    expect(run.statement.predicate.policy.digest.sha256).toBe(sha256sum(repo.root, 'run.yaml'));
    const evidenceField = run.statement.predicate['https://github.com/repro-gate/repro-gate/blob/v1/docs/provenance.md#verification-v1'];
    expect(evidenceField.records[0]).toMatchObject({ name: 'linear', verdict: 'reproduced', recordSha256: sha256sum(repo.root, 'run.yaml') });
    expect(evidenceField.records[0].inputs.map((input: any) => input.kind)).toEqual(['data', 'config', 'requirements']);
    // predicate.json is the statement's predicate, byte for byte as actions/attest reads it.
    expect(JSON.parse(await run.read('predicate.json'))).toEqual(run.statement.predicate);
    expect(await run.read('checksums.txt')).toBe(`${sha256sum(repo.root, 'out/model.json')}  out/model.json\n`);
    expect(execFileSync('sha256sum', ['-c', path.join(run.evidence, 'checksums.txt')], { cwd: repo.root, encoding: 'utf8' })).toBe('out/model.json: OK\n');

    // A verify that checked nothing (a record that is not there): no statement, and none left over from the earlier one.
    const nothing = await runCli(['verify', 'missing/run.yaml', '--evidence-dir', run.evidence], { cwd: repo.root, env: repo.env });
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain('no verification statement was written: no record was verified');
    expect(existsSync(path.join(run.evidence, 'provenance.json')) || existsSync(path.join(run.evidence, 'checksums.txt'))).toBe(false);
  });

  it('a drift gives a FAILED statement about the recorded model', async () => {
    const repo = await newRepo();
    const recorded = parse(await repo.read('run.yaml'));
    await repo.write('config.json', JSON.stringify({ ...JSON.parse(await repo.read('config.json')), lr: 0.01 }));
    const run = await verifyWithEvidence(repo);
    expect(run.report?.verdict).toBe('drift');
    expect(validateStatement(path.join(run.evidence, 'provenance.json'))).toBe(true);
    expect(await upstreamCheck(path.join(run.evidence, 'provenance.json'))).toMatchObject({ result: 'FAILED' });
    expect(run.statement.predicate.verifiedLevels).toEqual(['FAILED']);
    expect(run.statement.subject).toEqual([{ name: 'out/model.json', digest: { sha256: recorded.artifacts[0].sha256 } }]);
  });

  it('names a folder artifact by its dirHash1, as the in-toto recipe computes it, and lists its files in checksums.txt', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-dir-'));
    await writeFile(path.join(root, 'make.sh'), 'mkdir -p out/model/sub && printf a > out/model/a.bin && printf b > out/model/sub/b.bin && : > out/model/empty\n');
    await writeFile(path.join(root, '.gitignore'), 'out/\n');
    git(root, 'init', '-q');
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'code');
    const env = { REPRO_GATE_CACHE_DIR: cacheRoot };
    const recorded = await runCli(['record', '--name', 'folder', '--artifact', 'out/model', '--current-env', '--', 'sh', 'make.sh'], { cwd: root, env });
    expect(recorded.stderr).not.toMatch(/code\.dirty/);
    expect(recorded.status).toBe(0);
    expect(parse(await readFile(path.join(root, 'run.yaml'), 'utf8')).code.dirty).toBeUndefined();
    const evidence = await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-'));
    const verified = await runCli(['verify', 'run.yaml', '--evidence-dir', evidence], { cwd: root, env });
    expect(verified.status).toBe(0);
    const statement = JSON.parse(await readFile(path.join(evidence, 'provenance.json'), 'utf8'));
    const recipe = execFileSync('sh', ['-c', "find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -f1 -d' '"], { cwd: path.join(root, 'out', 'model'), encoding: 'utf8' }).trim();
    expect(statement.subject).toEqual([{ name: 'out/model', digest: { dirHash1: recipe } }]);
    const checksums = await readFile(path.join(evidence, 'checksums.txt'), 'utf8');
    expect(checksums.split('\n').filter(Boolean).map((line) => line.split('  ')[1])).toEqual(['out/model/a.bin', 'out/model/empty', 'out/model/sub/b.bin']);
    expect(execFileSync('sha256sum', ['-c', path.join(evidence, 'checksums.txt')], { cwd: root, encoding: 'utf8' })).toMatch(/^out\/model\/a.bin: OK\nout\/model\/empty: OK\nout\/model\/sub\/b.bin: OK\n$/);
  });
});

describe('verify --at recorded', () => {
  it('reruns the recorded commit: passes where the working tree would drift, leaves the tree untouched, and says which commit ran', async () => {
    const repo = await newRepo();
    const recordedCommit = parse(await repo.read('run.yaml')).code.commit;
    await repo.write('train.py', `${await repo.read('train.py')}\nraise SystemExit('the working tree is broken')\n`);
    await repo.write('config.json', JSON.stringify({ ...JSON.parse(await repo.read('config.json')), lr: 0.01 }));
    git(repo.root, 'commit', '-qam', 'later work');
    expect((await verifyUntouched(repo)).report?.verdict).toBe('error');

    const before = await snapshotTree(repo.root);
    const run = await verifyWithEvidence(repo, ['--at', 'recorded']);
    expect(await snapshotTree(repo.root)).toEqual(before);
    expect(run.status).toBe(0);
    expect(run.report?.verdict).toBe('reproduced');
    expect(run.record?.code).toMatchObject({ ranAt: git(repo.root, 'rev-parse', recordedCommit).trim(), changedFiles: [] });
    expect(run.stdout).toContain(`ran the code of the recorded commit ${git(repo.root, 'rev-parse', recordedCommit).trim()}`);
    expect(run.statement.predicate.resourceUri).toMatch(new RegExp(`@${git(repo.root, 'rev-parse', recordedCommit).trim()}$`));
    expect(run.record?.inputs.find((input) => input.kind === 'config')?.status).toBe('match');
  });

  it('errors with a hint when the commit is not in the clone, or the record was made from uncommitted code', async () => {
    const repo = await newRepo();
    await editRecord(repo, (record) => (record.code.commit = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef'));
    const missing = await verifyUntouched(repo, ['--at', 'recorded']);
    expect(missing.status).toBe(2);
    expect(missing.record?.error).toMatchObject({ message: 'the recorded commit deadbeefdeadbeefdeadbeefdeadbeefdeadbeef is not in this clone', field: 'code.commit' });
    expect(missing.record?.error?.hint).toContain('fetch-depth: 0');

    await editRecord(repo, (record) => {
      record.code.commit = git(repo.root, 'rev-parse', 'HEAD').trim();
      record.code.dirty = true;
    });
    const dirty = await verifyUntouched(repo, ['--at', 'recorded']);
    expect(dirty.status).toBe(2);
    expect(dirty.record?.error?.message).toMatch(/^the record was made from uncommitted changes \(code\.dirty: true\)/);

    const both = await runCli(['verify', 'run.yaml', '--at', 'recorded', '--affected'], { cwd: repo.root, env: repo.env });
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--at recorded and --affected exclude each other');
  });

  it('refuses a recorded commit whose config links outside the repository, and never reads what it leads to', async () => {
    const repo = await newRepo();
    const secret = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-secret-')), 'credentials');
    await writeFile(secret, 'SECRET-TOKEN-4711\n');
    const config = await repo.read('config.json');
    git(repo.root, 'rm', '-q', 'config.json');
    execFileSync('ln', ['-s', secret, 'config.json'], { cwd: repo.root });
    git(repo.root, 'add', 'config.json');
    git(repo.root, 'commit', '-qm', 'a link out');
    const linkedCommit = git(repo.root, 'rev-parse', 'HEAD').trim();
    git(repo.root, 'rm', '-q', 'config.json');
    await repo.write('config.json', config);
    git(repo.root, 'add', 'config.json');
    git(repo.root, 'commit', '-qm', 'the config back');
    await editRecord(repo, (record) => (record.code.commit = linkedCommit));
    const markdown = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-md-')), 'report.md');
    const refused = await verifyUntouched(repo, ['--at', 'recorded', '--markdown', markdown]);
    expect(refused.status).toBe(2);
    expect(refused.record?.error?.message).toBe('at the recorded commit, "config.json" is a symlink that leads outside the repository');
    for (const text of [refused.stdout, refused.stderr, JSON.stringify(refused.report), await readFile(markdown, 'utf8')]) expect(text).not.toContain('SECRET-TOKEN');
  });

  it('record marks a run of uncommitted code as code.dirty, and --at recorded refuses it', async () => {
    const repo = await newRepo();
    await repo.write('train.py', `${await repo.read('train.py')}\n# an uncommitted edit\n`);
    const rerecorded = await runCli(['record', '--update', 'run.yaml', '--force'], { cwd: repo.root, env: { ...repo.env, REPRO_GATE_CACHE_DIR: cacheRoot } });
    expect(rerecorded.status).toBe(0);
    expect(parse(await repo.read('run.yaml')).code.dirty).toBe(true);
    const refused = await verifyUntouched(repo, ['--at', 'recorded']);
    expect(refused.record?.error?.message).toContain('code.dirty: true');
  });
});
