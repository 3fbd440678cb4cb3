import path from 'node:path';
import { normalizePackageName } from '../environment/package-diff.js';
import type { ProbedProcess } from '../rerun/probe/read-trace.js';
import { leadsOutside } from '../record/paths.js';

// Pure: did the command run inside the rebuilt environment? A Python process outside it that did the training's
// work (imported a package the record pins, or ran the project's files) would make any verdict a false pass.

export interface EnvironmentUseFacts {
  processes: ProbedProcess[];
  /** The rebuilt venv (real path); null when the record has no requirements and the command runs as it is. */
  venvDir: string | null;
  sandboxRoot: string;
  recordedPackages: string[];
}

export interface EnvironmentUse {
  /** Set when the rerun cannot be trusted: names the interpreter and says how to fix the command. */
  problem?: { message: string; hint: string };
  /** Other Python processes outside the environment, e.g. a cloud CLI: named, never fatal. */
  warnings: string[];
  /** Normalized names of the distributions that some process of the command imported. */
  imported: string[];
  /** Processes that ran outside the rebuilt environment. */
  outsidePids: number[];
}

function relative(root: string, file: string): string {
  const inside = path.relative(root, file);
  return inside && !leadsOutside(inside) ? inside : file;
}

const FIX_HINT =
  'Call `python` (the rebuilt venv is first on PATH) instead of an interpreter by absolute path, such as a local venv or /usr/bin/python3; start Python subprocesses with sys.executable.';

function whatItDid(process: ProbedProcess, pinned: Set<string>, sandboxRoot: string): string | undefined {
  if (process.scriptInSandbox && process.script) return `ran ${relative(sandboxRoot, process.script)}`;
  if (process.sandboxModules.length > 0) return `imported ${relative(sandboxRoot, process.sandboxModules[0]!)}`;
  const used = (process.distributions ?? []).map(normalizePackageName).filter((name) => pinned.has(name));
  return used.length > 0 ? `imported ${used.slice(0, 3).join(', ')}` : undefined;
}

export function judgeEnvironmentUse(facts: EnvironmentUseFacts): EnvironmentUse {
  const imported = [...new Set(facts.processes.flatMap((process) => (process.distributions ?? []).map(normalizePackageName)))].sort();
  if (facts.venvDir === null) return { warnings: [], imported, outsidePids: [] };
  const pinned = new Set(facts.recordedPackages.map(normalizePackageName));
  const outside = facts.processes.filter((process) => process.prefix !== facts.venvDir);
  const outsidePids = outside.map((process) => process.pid);
  const warnings: string[] = [];
  for (const process of outside) {
    const did = whatItDid(process, pinned, facts.sandboxRoot);
    if (did) {
      return {
        problem: { message: `the command ran Python outside the rebuilt environment: ${process.executable} (Python ${process.version}) ${did}`, hint: FIX_HINT },
        warnings,
        imported,
        outsidePids,
      };
    }
    warnings.push(`a Python process outside the rebuilt environment ran (${process.executable}); it imported nothing the record pins, so it was allowed`);
  }
  if (!facts.processes.some((process) => process.prefix === facts.venvDir)) {
    return {
      problem: {
        message: 'the rebuilt environment was never used: no Python process of the command ran in it',
        hint: `${FIX_HINT} A command that is not Python needs no \`requirements\` in the record; \`python -I\`, \`-E\` and \`-S\` skip the probe that sees it.`,
      },
      warnings,
      imported,
      outsidePids,
    };
  }
  return { warnings, imported, outsidePids };
}
