import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// vitest starts the files that took longest last time first, from its results cache. A fresh clone (CI) has none, and
// vitest then starts the largest files first, which left a long file to run alone at the end on these 2-core machines.
// These are the seconds each long file took on one (fresh clone, 2026-11-29, with the container tests): only an
// order, so stale figures cost time, never a result. Files not listed run after these, in vitest's own order.
const SECONDS: Record<string, number> = {
  'test/integration/action.test.ts': 237,
  'test/integration/numeric-torch.test.ts': 204,
  'test/integration/hostile-corpus.test.ts': 147,
  'test/integration/sandbox-security.test.ts': 109,
  'test/integration/uv-project.test.ts': 99,
  'test/integration/author-loop.test.ts': 78,
  'test/integration/reusable-workflow.test.ts': 72,
  'test/integration/verify-cli.test.ts': 70,
  'test/integration/nondeterminism.test.ts': 63,
  'test/integration/container.test.ts': 61,
  'test/integration/registry.test.ts': 59,
  'test/unit/formats-pickle.test.ts': 53,
  'test/integration/numeric-pickle.test.ts': 46,
  'test/integration/dist.test.ts': 39,
  'test/integration/affected.test.ts': 37,
  'test/integration/cache.test.ts': 36,
  'test/integration/action-baseline.test.ts': 31,
};

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const seconds = (spec: TestSpecification) => SECONDS[path.relative(spec.project.config.root, spec.moduleId).split(path.sep).join('/')] ?? 0;
    return ordered.map((spec, index) => ({ spec, index })).sort((a, b) => seconds(b.spec) - seconds(a.spec) || a.index - b.index).map(({ spec }) => spec);
  }
}
