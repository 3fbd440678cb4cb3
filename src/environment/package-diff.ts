import type { PackageChange } from '../report/schema.js';

export interface PackageDiff {
  added: PackageChange[];
  removed: PackageChange[];
  changed: PackageChange[];
  unchanged: number;
}

/** PEP 503: names compare case-insensitively with runs of -, _ and . as one -. */
export function normalizePackageName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function normalized(packages: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(packages).map(([name, version]) => [normalizePackageName(name), version]));
}

/** Pure: what the rerun environment has against what was recorded. Sorted by name. */
export function diffPackages(recorded: Record<string, string>, actual: Record<string, string>): PackageDiff {
  const before = normalized(recorded);
  const after = normalized(actual);
  const diff: PackageDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const was = before.get(name) ?? null;
    const now = after.get(name) ?? null;
    if (was === null) diff.added.push({ name, recorded: null, actual: now });
    else if (now === null) diff.removed.push({ name, recorded: was, actual: null });
    else if (was !== now) diff.changed.push({ name, recorded: was, actual: now });
    else diff.unchanged += 1;
  }
  return diff;
}

/** `pip freeze` lines: `name==version`, or `name @ url` (the url is the version that matters). */
export function parseFreeze(text: string): Record<string, string> {
  const packages: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z0-9][A-Za-z0-9._+-]*)\s*(?:==\s*(\S+)|@\s*(\S+))/.exec(line.trim());
    if (match) packages[normalizePackageName(match[1]!)] = (match[2] ?? match[3])!;
  }
  return packages;
}
