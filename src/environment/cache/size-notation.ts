import { UserError } from '../../errors.js';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * `10GiB`, `500MiB`, `2GB`, `1.5 GiB` or a plain number of bytes. `source` names where the text came from
 * (an environment variable or a flag), so the error says exactly what to fix.
 */
export function parseSize(text: string, source: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? '';
  const multiplier = unit === '' ? 1 : UNITS[unit];
  // A bare number is a count of bytes, so a fraction there is a typo rather than a size.
  if (!match || multiplier === undefined || (unit === '' && match[1]!.includes('.'))) {
    throw new UserError(
      `${source} "${text}" is not a size`,
      'Give a number of bytes or a number with a unit: 10GiB, 500MiB, 2GB (KiB/MiB/GiB/TiB count in 1024s, KB/MB/GB/TB in 1000s).',
    );
  }
  return Math.floor(Number(match[1]) * multiplier);
}

/** Sizes as people read them: binary units, three significant digits. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}
