// Pure: semantic versions (https://semver.org), the names of a model's versions. Build metadata (`+…`) is refused:
// it does not order versions, so 1.0.0+a and 1.0.0+b would be two folders for one version.

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?$/;

export function isSemver(text: string): boolean {
  return text.length <= 100 && SEMVER.test(text);
}

function compareIdentifiers(a: string, b: string): number {
  const numericA = /^\d+$/.test(a);
  const numericB = /^\d+$/.test(b);
  if (numericA && numericB) return Number(a) - Number(b);
  if (numericA !== numericB) return numericA ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when a orders before b (both valid versions): numbers first, then a pre-release before its release. */
export function compareSemver(a: string, b: string): number {
  const [, ...partsA] = SEMVER.exec(a)!;
  const [, ...partsB] = SEMVER.exec(b)!;
  for (let i = 0; i < 3; i++) {
    const difference = Number(partsA[i]) - Number(partsB[i]);
    if (difference !== 0) return difference;
  }
  const [preA, preB] = [partsA[3], partsB[3]];
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  const [idsA, idsB] = [preA.split('.'), preB.split('.')];
  for (let i = 0; i < Math.min(idsA.length, idsB.length); i++) {
    const difference = compareIdentifiers(idsA[i]!, idsB[i]!);
    if (difference !== 0) return difference;
  }
  return idsA.length - idsB.length;
}
