import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_CPU_CHARS, MAX_GPU_NAME_CHARS, MAX_GPUS, MAX_VERSION_CHARS, type MachineFingerprint } from './schema.js';

// What the host itself can tell: CPU model and instruction sets from /proc/cpuinfo, GPUs from nvidia-smi. The native
// libraries come from inside the run's Python. Nothing here throws: a fingerprint that cannot be read is degraded
// (a model name from os.cpus(), no flags, no GPUs), never a reason to fail a verification.

const run = promisify(execFile);
const NVIDIA_SMI_TIMEOUT_MS = 5_000;

/** The flags that decide which kernels BLAS, oneDNN and friends dispatch to; the other hundred flags do not move floats. */
export const RELEVANT_ISA_FLAGS: ReadonlySet<string> = new Set([
  // x86-64
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx_vnni',
  'avx512f',
  'avx512dq',
  'avx512cd',
  'avx512bw',
  'avx512vl',
  'avx512ifma',
  'avx512vbmi',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'amx_bf16',
  'amx_int8',
  // arm (neon on 32-bit kernels, asimd on arm64)
  'neon',
  'asimd',
  'asimdhp',
  'asimddp',
  'i8mm',
  'bf16',
  'sve',
  'sve2',
  'sme',
]);

// arm64 kernels often print no model name, only these ids (arch/arm64/include/asm/cputype.h). The CPUs of the cloud
// runners are named; any other is shown by its ids, which still tell two machines apart.
const ARM_IMPLEMENTERS: Record<string, string> = { '0x41': 'ARM', '0x4e': 'NVIDIA', '0x51': 'Qualcomm', '0x61': 'Apple', '0xc0': 'Ampere' };
const ARM_PARTS: Record<string, string> = { '0x41:0xd0c': 'Neoverse-N1', '0x41:0xd40': 'Neoverse-V1', '0x41:0xd49': 'Neoverse-N2', '0x41:0xd4f': 'Neoverse-V2' };

function armModel(implementer: string | undefined, part: string | undefined): string | undefined {
  if (!implementer) return undefined;
  const vendor = ARM_IMPLEMENTERS[implementer.toLowerCase()] ?? `implementer ${implementer}`;
  if (!part) return vendor;
  return `${vendor} ${ARM_PARTS[`${implementer}:${part}`.toLowerCase()] ?? `part ${part}`}`;
}

/** Pure: the model name and the relevant flags (sorted) of the first processor; all processors of a machine share them. */
export function parseCpuinfo(text: string): { cpu?: string; isa: string[] } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  const flags = (fields.get('flags') ?? fields.get('Features') ?? '').split(/\s+/);
  const isa = [...new Set(flags.filter((flag) => RELEVANT_ISA_FLAGS.has(flag)))].sort();
  const cpu = fields.get('model name') || armModel(fields.get('CPU implementer'), fields.get('CPU part'));
  return cpu ? { cpu, isa } : { isa };
}

/** Pure: `nvidia-smi --query-gpu=name,driver_version --format=csv,noheader`, one GPU a line; other lines are skipped. */
export function parseNvidiaSmi(text: string): NonNullable<MachineFingerprint['gpus']> {
  const gpus: NonNullable<MachineFingerprint['gpus']> = [];
  for (const line of text.split('\n')) {
    // The driver is the last column: split there, so a name with a comma would still be whole.
    const comma = line.lastIndexOf(',');
    if (comma < 0) continue;
    const name = line.slice(0, comma).trim().slice(0, MAX_GPU_NAME_CHARS);
    const driver = line.slice(comma + 1).trim().slice(0, MAX_VERSION_CHARS);
    if (!name) continue;
    gpus.push(driver && driver !== '[N/A]' ? { name, driver } : { name });
  }
  return gpus.slice(0, MAX_GPUS);
}

async function nvidiaGpus(): Promise<MachineFingerprint['gpus']> {
  try {
    // SIGKILL, and a timer of our own: a wedged driver can leave nvidia-smi deaf to SIGTERM, and its pipes open.
    const query = run('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], {
      timeout: NVIDIA_SMI_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    // Unref'd, so the process never waits for it; a query that fails after the race lost is already handled.
    query.catch(() => undefined);
    const { stdout } = await Promise.race([query, sleep(NVIDIA_SMI_TIMEOUT_MS + 1_000, { stdout: '' }, { ref: false })]);
    const gpus = parseNvidiaSmi(stdout);
    return gpus.length > 0 ? gpus : undefined;
  } catch {
    // No binary, no driver loaded, no device, or a hang: the same as no GPU, as far as a fingerprint can tell.
    return undefined;
  }
}

/** The host's part of the fingerprint (the libraries are measured inside the run); degrades off Linux. */
export async function collectHostFingerprint(): Promise<Pick<MachineFingerprint, 'cpu' | 'isa' | 'cores' | 'gpus'>> {
  const [cpuinfo, gpus] = await Promise.all([readFile('/proc/cpuinfo', 'utf8').catch(() => ''), nvidiaGpus()]);
  const parsed = parseCpuinfo(cpuinfo);
  const cpu = (parsed.cpu ?? os.cpus()[0]?.model.trim()) || 'unknown';
  return {
    cpu: cpu.slice(0, MAX_CPU_CHARS),
    isa: parsed.isa,
    // What BLAS and OpenMP size their default pools by: the CPUs this process may run on, not all the machine has.
    cores: Math.max(1, os.availableParallelism()),
    ...(gpus ? { gpus } : {}),
  };
}
