import { ExitCode, PIP_CACHE_DIR_ENV, TOOL_NAME, UV_CACHE_DIR_ENV } from '../constants.js';
import { type CacheBound, cacheBound, type CacheInventory, formatSize, parseSize, pruneCache, type PruneResult, readCacheInventory } from '../environment/cache/index.js';
import { defaultCacheRoot } from '../environment/venv-cache.js';
import { UserError } from '../errors.js';
import { parseCommandLine } from './parse-args.js';

const CACHE_HINT = `Run \`${TOOL_NAME} cache --help\` for usage.`;

function age(sinceMs: number, now: number): string {
  const minutes = Math.floor((now - sinceMs) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ago`;
  return `${Math.floor(minutes / (24 * 60))} days ago`;
}

/** UTC to the minute: the same text on every machine, and what the file times mean is unambiguous. */
function timestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function describeBound(bound: CacheBound): string {
  return bound.source === 'default' ? `${formatSize(bound.bytes)} (the default bound)` : `${formatSize(bound.bytes)} (${bound.source})`;
}

function renderList(inventory: CacheInventory, bound: CacheBound, now = Date.now()): string {
  const rows: Array<[string, string, string]> = [];
  const byRecentUse = [...inventory.venvs].sort((a, b) => b.lastUsedMs! - a.lastUsedMs!);
  for (const venv of byRecentUse) rows.push([formatSize(venv.bytes), `${timestamp(venv.lastUsedMs!)} (${age(venv.lastUsedMs!, now)})`, venv.key]);
  for (const folder of inventory.incomplete) {
    rows.push([formatSize(folder.bytes), folder.lock === 'held' ? 'being built' : 'half-built: `cache prune` removes it', folder.key]);
  }
  for (const folder of inventory.downloads) if (folder.bytes > 0) rows.push([formatSize(folder.bytes), folder.label, folder.dir]);
  const lines = [`${TOOL_NAME} cache: ${inventory.root}`];
  if (rows.length === 0) {
    lines.push('No venvs cached yet.');
  } else {
    const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length), column === 0 ? 4 : 9));
    lines.push(`${'SIZE'.padStart(widths[0]!)}  ${'LAST USED'.padEnd(widths[1]!)}  VENV`);
    for (const [size, used, name] of rows) lines.push(`${size.padStart(widths[0]!)}  ${used.padEnd(widths[1]!)}  ${name}`);
  }
  const userPipCache = process.env[PIP_CACHE_DIR_ENV];
  if (userPipCache) lines.push(`pip downloads go to ${userPipCache} (${PIP_CACHE_DIR_ENV}), outside this cache.`);
  const userUvCache = process.env[UV_CACHE_DIR_ENV];
  if (userUvCache) lines.push(`uv downloads go to ${userUvCache} (${UV_CACHE_DIR_ENV}), outside this cache.`);
  lines.push(`Total: ${formatSize(inventory.totalBytes)} of ${describeBound(bound)}, ${inventory.venvs.length} venv(s).`);
  return lines.join('\n');
}

function renderPrune(result: PruneResult, bound: CacheBound | null): string {
  const lines: string[] = [];
  const bytes = (entries: Array<{ bytes: number }>) => formatSize(entries.reduce((sum, entry) => sum + entry.bytes, 0));
  if (result.evicted.length > 0) {
    lines.push(`Evicted ${result.evicted.length} venv(s), ${bytes(result.evicted)}, least recently used first:`);
    for (const venv of result.evicted) lines.push(`  ${venv.key}`);
  }
  if (result.removedIncomplete.length > 0) lines.push(`Removed ${result.removedIncomplete.length} half-built folder(s), ${bytes(result.removedIncomplete)}.`);
  if (result.removedLocks > 0) lines.push(`Removed ${result.removedLocks} stale lock file(s).`);
  for (const folder of result.removedDownloads) lines.push(`Removed ${folder.label}, ${formatSize(folder.bytes)}.`);
  if (result.building.length > 0) lines.push(`Left alone, being built: ${result.building.map((folder) => folder.key).join(', ')}.`);
  if (lines.length === 0) lines.push('Nothing to prune.');
  lines.push(`Cache: ${formatSize(result.totalBytesAfter)}${bound ? ` of ${describeBound(bound)}` : ''}.`);
  return lines.join('\n');
}

/** `repro-gate cache list|prune`: what the venv cache holds, and making room in it. */
export async function runCacheCommand(args: string[], stdout: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    'max-size': { type: 'string' },
    all: { type: 'boolean' },
  });
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UserError(`cache ${action}: unexpected argument "${extra[0]}"`, CACHE_HINT);
  const root = defaultCacheRoot();
  if (action === 'list') {
    if (values['max-size'] !== undefined || values.all) throw new UserError('--max-size and --all belong to `cache prune`, not `cache list`', CACHE_HINT);
    stdout.write(`${renderList(await readCacheInventory(root), cacheBound())}\n`);
    return ExitCode.Ok;
  }
  if (action === 'prune') {
    if (values['max-size'] !== undefined && values.all) throw new UserError('cache prune takes --max-size or --all, not both', CACHE_HINT);
    const bound: CacheBound | null = values.all
      ? null
      : values['max-size'] !== undefined
        ? { bytes: parseSize(values['max-size'], '--max-size'), source: '--max-size' }
        : cacheBound();
    const result = await pruneCache(root, { maxBytes: bound?.bytes ?? 0, all: values.all ?? false });
    stdout.write(`${renderPrune(result, bound)}\n`);
    return ExitCode.Ok;
  }
  throw new UserError(action ? `unknown cache command "${action}"` : 'cache needs a command: list or prune', CACHE_HINT);
}
