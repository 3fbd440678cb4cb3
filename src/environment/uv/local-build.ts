// Pure: whether syncing a uv project runs code of the checkout, read from its pyproject.toml and uv.lock texts.

/**
 * Why syncing this lock runs code of the checkout, or undefined when it does not: dependencies declared dynamic (uv
 * builds the project to learn them), or local packages besides the project (workspace members, path dependencies,
 * whose metadata uv may build). Such a venv is built for this run only, never cached, as pip's are for `-e .`.
 */
export function lockBuildsLocalCode(pyproject: string, lock: string): string | undefined {
  if (/^\s*dynamic\s*=\s*\[[^\]]*["'](?:dependencies|optional-dependencies)["']/m.test(pyproject)) return 'pyproject.toml declares its dependencies dynamic (uv builds the project to learn them)';
  const local = [...lock.matchAll(/^source = \{ (?:editable|directory|path|virtual) = "([^"]*)" \}/gm)].map((match) => match[1]).filter((folder) => folder !== '.');
  if (local.length > 0) return `the lock holds local packages besides the project (${local.slice(0, 3).join(', ')}${local.length > 3 ? ', …' : ''})`;
  return undefined;
}
