import type { MachineFingerprint } from './schema.js';

// Pure: words for a machine fingerprint, and what differs between the recorded machine and the rerun's, for the
// likely causes of float drift. A side that could not be measured (no flags, no libraries) is never read as a change.

type Libraries = MachineFingerprint['libraries'];
type Gpus = MachineFingerprint['gpus'];

const LIBRARY_NAMES: Record<string, string> = { openblas: 'OpenBLAS', mkl: 'MKL', blis: 'BLIS', flexiblas: 'FlexiBLAS', openmp: 'OpenMP' };

// Widest first: the headline is the widest vector unit the kernels may use.
const ISA_LEVELS: Array<[flags: string[], level: string]> = [
  [['avx512f'], 'AVX-512'],
  [['avx2'], 'AVX2'],
  [['avx'], 'AVX'],
  [['sse4_2'], 'SSE4.2'],
  [['sve', 'sve2'], 'SVE'],
  [['asimd', 'neon'], 'NEON'],
];

export function isaLevel(isa: string[]): string {
  return ISA_LEVELS.find(([flags]) => flags.some((flag) => isa.includes(flag)))?.[1] ?? 'baseline';
}

function libraryName(library: string): string {
  return LIBRARY_NAMES[library.toLowerCase()] ?? library;
}

function sortedDistinct<T extends string | number>(values: Array<T | null | undefined>): T[] {
  const present = [...new Set(values.filter((value): value is T => value !== null && value !== undefined))];
  return present.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
}

function blasLibraries(libraries: Libraries): NonNullable<Libraries> {
  return (libraries ?? []).filter((library) => library.api === 'blas');
}

function blasNames(libraries: Libraries): string[] {
  return sortedDistinct(blasLibraries(libraries).map((library) => libraryName(library.library)));
}

/** The BLAS the run loaded, e.g. MKL; several (numpy's OpenBLAS beside torch's MKL) are joined with +. */
export function blasName(libraries: Libraries): string | undefined {
  const names = blasNames(libraries);
  return names.length > 0 ? names.join(' + ') : undefined;
}

function threadCounts(libraries: Libraries, api: 'blas' | 'openmp'): string | undefined {
  const counts = sortedDistinct((libraries ?? []).filter((library) => library.api === api).map((library) => library.threads));
  return counts.length > 0 ? counts.join('/') : undefined;
}

/** Per BLAS (by name): a value such as its version or kernel architecture, distinct values joined. */
function perBlas(libraries: Libraries, field: 'version' | 'architecture'): Map<string, string> {
  const values = new Map<string, Array<string | null | undefined>>();
  for (const library of blasLibraries(libraries)) {
    const name = libraryName(library.library);
    values.set(name, [...(values.get(name) ?? []), library[field]]);
  }
  const joined = new Map<string, string>();
  for (const [name, list] of values) {
    const distinct = sortedDistinct(list);
    if (distinct.length > 0) joined.set(name, distinct.join(', '));
  }
  return joined;
}

/** Shown by their headline level; a machine whose flags are unknown (not Linux) by its CPU instead. */
function head(machine: MachineFingerprint): string {
  return machine.isa.length > 0 ? isaLevel(machine.isa) : shortCpuName(machine.cpu);
}

function phrase(machine: MachineFingerprint, show: { versions: boolean; threads: boolean }): string {
  const names = blasNames(machine.libraries);
  if (names.length === 0) return head(machine);
  const versions = perBlas(machine.libraries, 'version');
  const blas = names.map((name) => (show.versions && versions.has(name) ? `${name} ${versions.get(name)}` : name)).join(' + ');
  const threads = threadCounts(machine.libraries, 'blas');
  const pool = show.threads && threads ? ` (${threads} thread${threads === '1' ? '' : 's'})` : '';
  return `${head(machine)} with ${blas}${pool}`;
}

/** A short phrase for sentences, e.g. "AVX2 with OpenBLAS (8 threads)". */
export function describeMachine(machine: MachineFingerprint): string {
  return phrase(machine, { versions: false, threads: true });
}

/** "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz" → "Intel Xeon Platinum 8370C": the model without marks, clock or filler. */
export function shortCpuName(model: string): string {
  const short = model
    .replace(/\((R|TM)\)/gi, '')
    .replace(/@.*$/, '')
    .replace(/\bwith Radeon\b.*$/i, '')
    .replace(/\b(CPU|Processor|\d+-Cores?)\b/gi, '')
    .replace(/\s+/g, ' ')
    .trim();
  return short || model.trim();
}

function gpuSummary(gpus: Gpus): string | undefined {
  const counts = new Map<string, number>();
  for (const gpu of gpus ?? []) counts.set(gpu.name, (counts.get(gpu.name) ?? 0) + 1);
  const parts = [...counts].map(([name, count]) => (count > 1 ? `${count}× ${name}` : name));
  return parts.length > 0 ? parts.join(' + ') : undefined;
}

/** Recorded → actual, when both sides know the value and they differ. */
function change(label: string, recorded: string | undefined, actual: string | undefined): string | undefined {
  return recorded !== undefined && actual !== undefined && recorded !== actual ? `${label} ${recorded} → ${actual}` : undefined;
}

function isaChanges(recorded: string[], actual: string[]): string[] {
  if (recorded.length === 0 || actual.length === 0) return [];
  const lost = recorded.filter((flag) => !actual.includes(flag));
  const gained = actual.filter((flag) => !recorded.includes(flag));
  return [...(lost.length > 0 ? [`ISA flags lost: ${lost.join(', ')}`] : []), ...(gained.length > 0 ? [`ISA flags gained: ${gained.join(', ')}`] : [])];
}

interface LibraryChanges {
  details: string[];
  /** The BLAS itself changed (name, version or thread count), so the headline is about it ... */
  blas: boolean;
  /** ... and shows the versions, the thread counts, when those are what changed. */
  versions: boolean;
  threads: boolean;
}

function libraryChanges(recorded: Libraries, actual: Libraries): LibraryChanges {
  if (!recorded || !actual) return { details: [], blas: false, versions: false, threads: false };
  const names = change('BLAS', blasName(recorded) ?? 'none', blasName(actual) ?? 'none');
  const perField = (field: 'version' | 'architecture', label: (name: string) => string) => {
    const after = perBlas(actual, field);
    return [...perBlas(recorded, field)].map(([name, value]) => change(label(name), value, after.get(name)));
  };
  const versions = perField('version', (name) => name);
  const architectures = perField('architecture', (name) => `${name} architecture`);
  const blasThreads = change('BLAS threads', threadCounts(recorded, 'blas'), threadCounts(actual, 'blas'));
  const openmpThreads = change('OpenMP threads', threadCounts(recorded, 'openmp'), threadCounts(actual, 'openmp'));
  const details = [names, ...versions, ...architectures, blasThreads, openmpThreads].filter((line) => line !== undefined);
  const anyVersion = versions.some((line) => line !== undefined);
  return { details, blas: Boolean(names) || anyVersion || Boolean(blasThreads), versions: anyVersion, threads: Boolean(blasThreads) };
}

function gpuChanges(recorded: Gpus, actual: Gpus): string[] {
  const first = (gpus: Gpus, field: 'driver' | 'cuda' | 'cudnn') => gpus?.[0]?.[field];
  const lines = [
    change('GPU', gpuSummary(recorded) ?? 'none', gpuSummary(actual) ?? 'none'),
    change('GPU driver', first(recorded, 'driver'), first(actual, 'driver')),
    change('CUDA', first(recorded, 'cuda'), first(actual, 'cuda')),
    change('cuDNN', first(recorded, 'cudnn'), first(actual, 'cudnn')),
  ];
  return lines.filter((line) => line !== undefined);
}

/**
 * What differs between the recorded machine and the rerun's that can move floats, or undefined when nothing does.
 * The subject leads with the vector level and BLAS, then the GPUs, then the CPU model; otherwise it is the one change.
 */
export function machineChanges(recorded: MachineFingerprint, actual: MachineFingerprint): { subject: string; details: string[] } | undefined {
  const isa = isaChanges(recorded.isa, actual.isa);
  const libraries = libraryChanges(recorded.libraries, actual.libraries);
  const cpu = change('CPU', shortCpuName(recorded.cpu), shortCpuName(actual.cpu));
  const gpus = gpuChanges(recorded.gpus, actual.gpus);
  const details = [...isa, ...libraries.details, ...(cpu ? [cpu] : []), ...gpus];
  if (details.length === 0) return undefined;

  const levelChanged = recorded.isa.length > 0 && actual.isa.length > 0 && isaLevel(recorded.isa) !== isaLevel(actual.isa);
  if (levelChanged || libraries.blas) {
    // Versions and thread counts only where they differ, so the sentence shows the change and nothing else.
    const show = { versions: libraries.versions, threads: libraries.threads };
    return { subject: `recorded on ${phrase(recorded, show)}, rerun on ${phrase(actual, show)}`, details };
  }
  const gpusBefore = gpuSummary(recorded.gpus);
  const gpusAfter = gpuSummary(actual.gpus);
  if (gpusBefore !== gpusAfter) {
    const on = (summary: string | undefined) => (summary ? `on ${summary}` : 'without a GPU');
    return { subject: `recorded ${on(gpusBefore)}, rerun ${on(gpusAfter)}`, details };
  }
  if (cpu) return { subject: `recorded on ${shortCpuName(recorded.cpu)}, rerun on ${shortCpuName(actual.cpu)}`, details };
  return { subject: details[0]!, details };
}
