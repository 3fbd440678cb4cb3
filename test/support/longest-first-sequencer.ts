import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// vitest starts the files that took longest last time first, from its results cache. A fresh clone (CI) has none, and
// vitest then starts the largest files first, which left a long file to run alone at the end on these 2-core machines.
// These are the seconds each long file took on one (fresh clone, 2026-11-29): only an order, so stale figures cost
// time, never a result. Files not listed run after these, in vitest's own order.
const SECONDS: Record<string, number> = {
  'test/integration/action.test.ts': 251,
  'test/integration/numeric-torch.test.ts': 183,
  'test/integration/hostile-corpus.test.ts': 150,
  'test/integration/sandbox-security.test.ts': 133,
  'test/integration/uv-project.test.ts': 112,
  'test/integration/author-loop.test.ts': 86,
  'test/unit/formats-pickle.test.ts': 76,
  'test/integration/nondeterminism.test.ts': 69,
  'test/integration/verify-cli.test.ts': 58,
  'test/integration/cache.test.ts': 57,
  'test/integration/numeric-pickle.test.ts': 55,
  'test/integration/reusable-workflow.test.ts': 95,
  'test/integration/dist.test.ts': 38,
  'test/integration/audit-trail.test.ts': 40,
  'test/integration/affected.test.ts': 34,
  'test/integration/action-baseline.test.ts': 30,
  'test/integration/scale.test.ts': 25,
};

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const seconds = (spec: TestSpecification) => SECONDS[path.relative(spec.project.config.root, spec.moduleId).split(path.sep).join('/')] ?? 0;
    return ordered.map((spec, index) => ({ spec, index })).sort((a, b) => seconds(b.spec) - seconds(a.spec) || a.index - b.index).map(({ spec }) => spec);
  }
}
