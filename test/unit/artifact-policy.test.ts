import { describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../src/compare/artifacts.js';
import { decideVerdict } from '../../src/compare/verdict.js';
import { annotationsFor } from '../../src/publish/annotations.js';
import { explainRecord } from '../../src/report/explain.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { recordReport, report } from '../support/report-fixtures.js';

// `compare: report`: a plot or a log is shown when it changes, and never fails the gate.

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

const artifacts = compareArtifacts(
  [
    { path: 'out/model.pkl', sha256: A },
    { path: 'out/loss.png', sha256: A, policy: 'report' },
  ],
  new Map([
    ['out/model.pkl', A],
    ['out/loss.png', B],
  ]),
);
const findings = { inputs: [], metrics: [], thresholds: [], artifacts };

describe('compare: report', () => {
  it('never changes the verdict, however the artifact changed', () => {
    expect(artifacts[1]).toMatchObject({ status: 'differs', policy: 'report' });
    expect(decideVerdict(findings)).toBe('reproduced');
    const missing = compareArtifacts([{ path: 'out/loss.png', sha256: A, policy: 'report' }], new Map());
    expect(decideVerdict({ ...findings, artifacts: missing })).toBe('reproduced');
  });

  it('still drifts on an exact artifact beside it', () => {
    const exact = compareArtifacts([{ path: 'out/model.pkl', sha256: A }], new Map([['out/model.pkl', B]]));
    expect(decideVerdict({ ...findings, artifacts: [...exact, artifacts[1]!] })).toBe('drift');
  });

  it('is listed as changed (not gating) in the sentence, the comment, the terminal and the annotations', () => {
    const record = recordReport({ verdict: 'reproduced', artifacts, metrics: [] });
    expect(explainRecord(record, (text) => text)).toBe('out/loss.png changed (not gating).');
    expect(renderMarkdown(report([record]))).toMatch(/out\/loss\.png[^\n]*ℹ️ changed \(not gating\)/);
    expect(renderTerminal(report([record]))).toMatch(/out\/loss\.png .* differs \(not gating\)/);
    expect(annotationsFor(report([record]))).toEqual([expect.objectContaining({ level: 'notice', title: expect.stringMatching(/artifact changed \(not gating\)$/) })]);
  });
});
