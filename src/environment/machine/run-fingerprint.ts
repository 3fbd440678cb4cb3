import type { ProbedProcess } from '../../rerun/probe/read-trace.js';
import type { MachineFingerprint } from './schema.js';

// Pure: one run's machine fingerprint, from what the host says (CPU, GPUs) and what the run's own Python processes
// had loaded (the BLAS and OpenMP pools, torch's CUDA and cuDNN).

type Host = Pick<MachineFingerprint, 'cpu' | 'isa' | 'cores' | 'gpus'>;

const API = new Set(['blas', 'openmp']);

export function runFingerprint(host: Host, processes: readonly ProbedProcess[]): MachineFingerprint {
  // The process that loaded the most native pools did the numeric work (a launcher loads none).
  const worker = [...processes].filter((process) => process.native).sort((a, b) => b.native!.libraries.length - a.native!.libraries.length)[0]?.native;
  const libraries = worker?.libraries.map((library) => ({
    api: API.has(library.api) ? (library.api as 'blas' | 'openmp') : ('other' as const),
    library: library.library || 'unknown',
    ...(library.version !== null ? { version: library.version } : {}),
    ...(library.threads !== null ? { threads: library.threads } : {}),
    ...(library.architecture !== null ? { architecture: library.architecture } : {}),
  }));
  const gpus = host.gpus?.map((gpu) => ({ ...gpu, ...(worker?.cuda ? { cuda: worker.cuda } : {}), ...(worker?.cudnn ? { cudnn: worker.cudnn } : {}) }));
  return {
    cpu: host.cpu,
    isa: host.isa,
    cores: host.cores,
    ...(libraries && libraries.length > 0 ? { libraries } : {}),
    ...(gpus && gpus.length > 0 ? { gpus } : {}),
  };
}
