import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkModel, metricsFileText } from '../../src/registry/check.js';
import { policyProblems } from '../../src/registry/check-registry.js';
import { parseChecksums, renderChecksums } from '../../src/registry/checksum-file.js';
import { DEFAULT_POLICY, evaluatePromotion, PolicySchema, type PromotionFacts } from '../../src/registry/policy.js';
import { appendedLine, isPrefixOf, type Promotion, readLog } from '../../src/registry/promotion-log.js';
import { renderRegistryMarkdown } from '../../src/registry/report.js';
import { compareSemver, isSemver } from '../../src/registry/semver.js';
import type { RunRecord } from '../../src/record/schema.js';
import { verifyVersion } from '../../src/registry/verification.js';
import { recordReport, report } from '../support/report-fixtures.js';
import type { BaseModelState, ModelState, VersionState } from '../../src/registry/state.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const DIGEST = 'a'.repeat(64);

function promotion(alias: string, from: string | null, to: string, time = '2026-11-01T00:00:00.000Z'): Omit<Promotion, 'prev'> {
  return { time, alias, from, to, version_sha256: DIGEST, actor: 'ml-bot', reason: 'because' };
}

function log(...promotions: Array<Omit<Promotion, 'prev'>>): string {
  return promotions.reduce((text, next) => text + appendedLine(text, next), '');
}

describe('semantic versions', () => {
  it('accepts MAJOR.MINOR.PATCH with a pre-release, and orders them as semver.org does', () => {
    expect(['1.2.0', '0.0.1', '2.0.0-rc.1', '1.0.0-alpha.beta'].every(isSemver)).toBe(true);
    expect(['1.2', '01.2.0', '1.2.0+build', 'v1.2.0', '1.2.0-', '1.2.0-01'].some(isSemver)).toBe(false);
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0'];
    expect([...ordered].reverse().sort(compareSemver)).toEqual(ordered);
  });
});

describe('checksum.txt', () => {
  it('round-trips names sha256sum escapes, and `sha256sum -c` accepts what it renders', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-checksums-'));
    const files = new Map<string, string>();
    for (const [name, content] of [['model.pkl', 'weights'], ['with space.json', '{}'], ['back\\slash.txt', 'b'], ['ünï.bin', 'u']] as const) {
      await writeFile(path.join(dir, name), content);
      files.set(name, sha256(content));
    }
    const text = renderChecksums(files);
    await writeFile(path.join(dir, 'checksum.txt'), text);
    expect(execFileSync('sha256sum', ['-c', 'checksum.txt'], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean)).toHaveLength(4);
    expect(parseChecksums(text)).toEqual({ files });
    expect(parseChecksums(`${DIGEST}  a\n${DIGEST}  a\n`)).toEqual({ problem: { line: 2, message: 'names a a second time' } });
    expect(parseChecksums('not a line\n')).toMatchObject({ problem: { line: 1 } });
  });
});

describe('the promotion log', () => {
  it('chains each line to the one before, so an edited, removed or reordered line is found', () => {
    const text = log(promotion('staging', null, '1.2.0'), promotion('prod', null, '1.2.0'), promotion('staging', '1.2.0', '1.2.1'));
    expect(readLog(text)).toMatchObject({ promotions: [{ alias: 'staging' }, { alias: 'prod' }, { alias: 'staging' }] });
    const lines = text.split('\n').filter(Boolean);
    expect(JSON.parse(lines[1]!).prev).toBe(sha256(lines[0]!));
    expect(readLog(text.replace('"ml-bot"', '"someone"'))).toMatchObject({ problem: { line: 2 } });
    expect(readLog(`${lines[0]}\n${lines[2]}\n`)).toMatchObject({ problem: { line: 2, message: expect.stringContaining('prev does not match') } });
    expect(readLog(`${lines[1]}\n`)).toMatchObject({ problem: { line: 1, message: 'the first line must have prev: null' } });
    expect(readLog(text.slice(0, -1))).toMatchObject({ problem: { message: 'the last line does not end with a newline' } });
    expect(readLog('{"time": 1}\n')).toMatchObject({ problem: { line: 1 } });
    expect(isPrefixOf(`${lines[0]}\n`, text)).toBe(true);
    expect(isPrefixOf(`${lines[0]}\n`, log(promotion('staging', null, '1.2.0', '2026-11-02T00:00:00.000Z')))).toBe(false);
  });
});

function facts(overrides: Partial<PromotionFacts>): PromotionFacts {
  return {
    alias: 'prod',
    version: '1.2.1',
    checksums: { ok: true, detail: 'every file matches' },
    verdict: 'reproduced',
    metrics: { accuracy: 0.95 },
    history: [],
    current: '1.2.0',
    versions: new Set(['1.2.0', '1.2.1']),
    ...overrides,
  };
}

const rowsOf = (rows: ReturnType<typeof evaluatePromotion>) => rows.map(({ rule, ok }) => [rule, ok]);

describe('the promotion policy', () => {
  it('by default asks a version to reproduce, and prod to have been in staging first', () => {
    const staged = { ...promotion('staging', null, '1.2.1'), prev: null };
    expect(rowsOf(evaluatePromotion(undefined, facts({ history: [staged] })))).toEqual([
      ['checksum.txt matches', true],
      ['reproduces (reproduced or within-tolerance)', true],
      ['was in staging first', true],
    ]);
    expect(rowsOf(evaluatePromotion(undefined, facts({})))).toContainEqual(['was in staging first', false]);
    expect(rowsOf(evaluatePromotion(undefined, facts({ alias: 'canary', verdict: 'drift' })))).toEqual([
      ['checksum.txt matches', true],
      ['reproduces (reproduced or within-tolerance)', false],
    ]);
    // Not rerun (registry check): undecided, never a pass by default.
    expect(evaluatePromotion(undefined, facts({ alias: 'staging', verdict: undefined }))[1]).toEqual({ rule: 'reproduces (reproduced or within-tolerance)', ok: null, detail: 'not rerun here' });
    // `unaffected` was not rerun: it verifies nothing.
    expect(evaluatePromotion(DEFAULT_POLICY, facts({ alias: 'staging', verdict: 'unaffected' }))[1]!.ok).toBe(false);
  });

  it('holds a written policy\'s thresholds, verdict, stage order and rollback target', () => {
    const policy = PolicySchema.parse({
      aliases: {
        staging: { thresholds: { accuracy: { min: 0.9 } } },
        prod: { verdict: 'reproduced', after: 'staging', rollback: 'required', thresholds: { accuracy: { min: 0.97 }, latency_ms: { max: 50 } } },
      },
    });
    const history = [{ ...promotion('staging', null, '1.2.1'), prev: null }];
    expect(evaluatePromotion(policy, facts({ history, verdict: 'within-tolerance' })).map(({ rule, ok, detail }) => `${ok} ${rule}: ${detail}`)).toEqual([
      'true checksum.txt matches: every file matches',
      'false reproduces bit for bit (reproduced): within-tolerance',
      'false accuracy ≥ 0.97: 0.95',
      "false latency_ms ≤ 50: not in the version's metrics",
      'true was in staging first: promoted to staging at 2026-11-01T00:00:00.000Z',
      'true has a rollback target: roll back to 1.2.0',
    ]);
    expect(evaluatePromotion(policy, facts({ history, current: undefined })).at(-1)).toEqual({ rule: 'has a rollback target', ok: true, detail: 'first promotion: nothing to roll back to' });
    expect(evaluatePromotion(policy, facts({ history, current: '0.9.0' })).at(-1)!.ok).toBe(false);
    // A rollback is not rerun, and the log does not keep the verdict it had: an alias that asks for reproduced refuses it.
    const rollbackOf = { ...promotion('prod', null, '1.2.1'), prev: null };
    expect(evaluatePromotion(policy, facts({ history, verdict: undefined, rollbackOf }))[1]).toMatchObject({ ok: false, detail: expect.stringContaining('whose verdict the log does not keep') });
    expect(evaluatePromotion(DEFAULT_POLICY, facts({ history, verdict: undefined, rollbackOf }))[1]).toEqual({ rule: 'reproduces (reproduced or within-tolerance)', ok: true, detail: 'not rerun: a rollback to the version prod held from 2026-11-01T00:00:00.000Z' });
    expect(rowsOf(evaluatePromotion(policy, facts({ alias: 'canary' })))).toContainEqual(['policy has a rule for canary', false]);
    expect(PolicySchema.safeParse({ aliases: { prod: { after: 'stagin' } } }).error?.issues[0]?.message).toBe('names stagin, which has no rule in the policy');
    expect(PolicySchema.safeParse({ aliases: { prod: { verdict: 'drift' } } }).success).toBe(false);
  });
});

const RECORD: RunRecord = { version: 1, name: 'iris', command: 'python train.py', code: { commit: 'abc1234' }, artifacts: [{ path: 'out/model.pkl', sha256: sha256('model') }], metrics: { path: 'out/m.json', values: { accuracy: 0.9 } } };

function versionState(record: RunRecord = RECORD): VersionState {
  const metricsText = metricsFileText(record.metrics?.values ?? {});
  const manifestText = JSON.stringify({ record: 'run.yaml', record_sha256: sha256('record') });
  const files = new Map([['data_manifest.json', sha256(manifestText)], ['metrics.json', sha256(metricsText)], ['model.pkl', sha256('model')], ['run.yaml', sha256('record')]]);
  const checksumText = renderChecksums(files);
  return { files, checksumText, checksumSha256: sha256(checksumText), record, metricsText, manifestText };
}

function modelState(overrides: Partial<ModelState>): ModelState {
  return { name: 'iris', dir: 'models/iris', versions: new Map([['1.2.0', versionState()], ['1.2.1', versionState()]]), aliases: new Map(), aliasSource: 'symlinks', logText: '', policy: {}, problems: [], leftovers: [], ...overrides };
}

const messages = (model: ModelState, base?: BaseModelState) => checkModel(model, base).problems.map((problem) => problem.message);

describe('registry check', () => {
  const promoted = (alias: string, from: string | null, to: string) => ({ ...promotion(alias, from, to), version_sha256: versionState().checksumSha256! });

  it('passes aliases that match their last promotion, and names an interrupted promotion and how to finish it', () => {
    const logText = log(promoted('staging', null, '1.2.0'), promoted('staging', '1.2.0', '1.2.1'));
    expect(messages(modelState({ aliases: new Map([['staging', '1.2.1']]), logText }))).toEqual([]);
    expect(messages(modelState({ aliases: new Map([['staging', '1.2.0']]), logText }))).toEqual([
      'the promotion of staging to 1.2.1 did not finish (staging still points to 1.2.0): run `repro-gate registry promote iris 1.2.1 --to staging` again, which checks it and finishes it',
    ]);
    expect(messages(modelState({ aliases: new Map([['staging', '1.2.0'], ['prod', '9.9.9']]), logText: log(promoted('staging', null, '1.2.0')) }))).toEqual([
      'alias prod points to 9.9.9, which is not a version of iris',
      'alias prod points to 9.9.9, but promotions.jsonl records no promotion to prod: move aliases with `repro-gate registry promote`',
    ]);
    expect(messages(modelState({ aliases: new Map([['staging', '1.2.1']]), logText: log(promoted('staging', null, '1.2.0'), promoted('staging', '1.2.1', '1.2.1')) }))).toEqual([
      'promotions.jsonl line 2 moves staging from 1.2.1, but the line before left it at 1.2.0',
    ]);
  });

  it('holds each version to its own run.yaml: checksum.txt rewritten over other files proves nothing', () => {
    const good = versionState();
    const swapped = new Map([...good.files, ['model.pkl', sha256('backdoor')], ['extra.bin', DIGEST]]);
    const forged = { ...good, files: swapped, checksumText: renderChecksums(swapped), metricsText: '{"accuracy": 0.99}\n' };
    expect(messages(modelState({ versions: new Map([['2.0.0', forged]]) }))).toEqual([
      `2.0.0: model.pkl is not the out/model.pkl that run.yaml records (sha256 ${sha256('backdoor').slice(0, 12)}…, recorded ${sha256('model').slice(0, 12)}…)`,
      '2.0.0: extra.bin is not an artifact run.yaml records',
      '2.0.0: metrics.json is not the metrics run.yaml records',
    ]);
  });

  it('finds a version changed after its promotion, and judges each alias\'s last promotion by the policy', () => {
    const state = modelState({ aliases: new Map([['prod', '1.2.0']]), logText: log(promoted('prod', null, '1.2.0')) });
    state.versions.set('1.2.0', { ...versionState(), checksumSha256: DIGEST });
    const checked = checkModel(state);
    expect(checked.problems.map((problem) => problem.message)).toEqual(['1.2.0 changed after it was promoted to prod (its checksum.txt is not the one promotions.jsonl line 1 names)']);
    expect(policyProblems(checked.toJudge).map((problem) => problem.message)).toEqual(['prod → 1.2.0 breaks the policy: was in staging first (never promoted to staging)']);
  });

  it('against a base, judges every appended line by the base\'s policy and refuses a policy changed beside them', () => {
    const baseLog = log(promoted('staging', null, '1.2.0'));
    const base: BaseModelState = { logText: baseLog, policyText: 'aliases:\n  staging: {}\n  prod: { after: staging }\n', versions: new Set(['1.2.0', '1.2.1']), aliases: new Map([['staging', '1.2.0']]), changedVersionFiles: [] };
    // Staging moves to 1.2.1 and back within the change: each line is judged, not only where the alias ends up.
    const logText = baseLog + appendedLine(baseLog, promoted('staging', '1.2.0', '1.2.1'));
    const head = logText + appendedLine(logText, promoted('staging', '1.2.1', '1.2.0'));
    const checked = checkModel(modelState({ aliases: new Map([['staging', '1.2.0']]), logText: head, policyText: 'aliases:\n  staging: {}\n', policy: { policy: { aliases: { staging: {} } } } }), base);
    expect(checked.toJudge.map((judged) => [judged.promotion.from, judged.promotion.to, judged.history.length, judged.trusted.length, Object.keys(judged.policy!.aliases)])).toEqual([
      ['1.2.0', '1.2.1', 1, 1, ['staging', 'prod']],
      ['1.2.1', '1.2.0', 2, 1, ['staging', 'prod']],
    ]);
    expect(checked.problems.map((problem) => problem.message)).toEqual([
      'policy.yaml changed in the same change as 2 promotions: change the policy on its own, then promote under it (promotions here are judged by the base\'s policy)',
    ]);
  });
});

describe('verifying a version', () => {
  it('judges thresholds on what the rerun measured, not on the record\'s values its own tolerances let through', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-registry-report-'));
    const reportFile = path.join(dir, 'report.json');
    const lenient = recordReport({
      recordSha256: sha256('record'),
      verdict: 'within-tolerance',
      metrics: [{ name: 'accuracy', recorded: 0.99, rerun: 0.6, delta: -0.39, tolerance: { abs: 1, rel: 0 }, status: 'within' }],
    });
    await writeFile(reportFile, JSON.stringify(report([lenient])));
    const model = modelState({});
    const verification = await verifyVersion({ registryDir: dir, model, version: '1.2.0', alias: 'staging', trusted: [], reportFile, rerun: () => Promise.reject(new Error('not rerun')) });
    expect(verification).toEqual({ verdict: 'within-tolerance', metrics: { accuracy: 0.6 } });
    const policy = PolicySchema.parse({ aliases: { staging: { thresholds: { accuracy: { min: 0.95 } } } } });
    const rows = evaluatePromotion(policy, { ...facts({ alias: 'staging', version: '1.2.0', metrics: { accuracy: 0.99 } }), ...verification });
    expect(rows.find((row) => row.rule === 'accuracy ≥ 0.95')).toEqual({ rule: 'accuracy ≥ 0.95', ok: false, detail: '0.6' });
  });
});

describe('the registry comment', () => {
  it('keeps names from a pull request inert', () => {
    const markdown = renderRegistryMarkdown({
      problems: [{ model: 'iris', message: '<!-- repro-gate:sticky --> @admin' }],
      promotions: [{ model: 'iris', alias: 'prod', from: '1.2.0', to: '1.2.1', rows: [{ rule: 'was in staging first', ok: true, detail: '[x](https://evil)' }], fromMetrics: { 'a|b': 1 }, toMetrics: { 'a|b': 2 }, passes: false }],
      base: 'main',
    });
    expect(markdown).toContain('#### ❌ iris prod: 1.2.0 → 1.2.1');
    expect(markdown).toContain('| a\\|b | 1 | 2 | +1 |');
    expect(markdown).not.toContain('<!--');
    expect(markdown).not.toContain('@admin');
    expect(markdown).not.toContain('](https://');
  });
});
