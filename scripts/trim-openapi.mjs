#!/usr/bin/env node
// Writes test/fixtures/github-openapi-subset.json: the operations the GitHub stand-in serves, cut from
// GitHub's official OpenAPI description (@octokit/openapi, ~385 MB installed, so it is not a dependency).
// Usage: node scripts/trim-openapi.mjs [path/to/api.github.com.json]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OPENAPI_PACKAGE = '@octokit/openapi@23.0.2';
const OPERATIONS = {
  '/user': ['get'],
  '/repos/{owner}/{repo}/issues': ['get', 'post'],
  '/repos/{owner}/{repo}/issues/{issue_number}': ['patch'],
  '/repos/{owner}/{repo}/issues/{issue_number}/comments': ['get', 'post'],
  '/repos/{owner}/{repo}/issues/comments/{comment_id}': ['patch'],
  '/repos/{owner}/{repo}/commits/{commit_sha}/pulls': ['get'],
  '/repos/{owner}/{repo}/pulls': ['get'],
  '/repos/{owner}/{repo}/actions/runs/{run_id}': ['get'],
  '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs': ['get'],
  '/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts': ['get'],
  '/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}': ['get'],
};
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'github-openapi-subset.json');

function loadDescription() {
  if (process.argv[2]) return JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const dir = mkdtempSync(path.join(tmpdir(), 'octokit-openapi-'));
  try {
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', dir, OPENAPI_PACKAGE], { stdio: 'inherit' });
    return JSON.parse(readFileSync(path.join(dir, 'node_modules', '@octokit', 'openapi', 'generated', 'api.github.com.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every `#/components/...` reference reachable from a value, followed transitively. */
function collectComponents(description, roots) {
  const keep = {};
  const pending = [roots];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Array.isArray(value)) pending.push(...value);
    else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/')) {
          const [, , section, name] = child.split('/');
          keep[section] ??= {};
          if (!keep[section][name]) {
            keep[section][name] = description.components[section][name];
            pending.push(keep[section][name]);
          }
        } else pending.push(child);
      }
    }
  }
  return keep;
}

const description = loadDescription();
const paths = Object.fromEntries(
  Object.entries(OPERATIONS).map(([route, methods]) => [route, Object.fromEntries(methods.map((method) => [method, description.paths[route][method]]))]),
);
const components = collectComponents(description, paths);
for (const section of Object.keys(components)) {
  components[section] = Object.fromEntries(Object.entries(components[section]).sort(([a], [b]) => a.localeCompare(b)));
}
const subset = {
  openapi: description.openapi,
  info: { ...description.info, 'x-trimmed-from': OPENAPI_PACKAGE, 'x-trimmed-by': 'scripts/trim-openapi.mjs' },
  paths,
  components,
};
writeFileSync(OUT, `${JSON.stringify(subset, null, 1)}\n`);
console.log(`wrote ${OUT}: ${Object.keys(paths).length} paths, ${Object.values(components).reduce((n, section) => n + Object.keys(section).length, 0)} components`);
