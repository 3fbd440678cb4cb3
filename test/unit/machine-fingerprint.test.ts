import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { blasName, describeMachine, isaLevel, machineChanges, shortCpuName } from '../../src/environment/machine/describe.js';
import { collectHostFingerprint, parseCpuinfo, parseNvidiaSmi, RELEVANT_ISA_FLAGS } from '../../src/environment/machine/host.js';
import { MachineFingerprintSchema, MAX_ISA_FLAGS, type MachineFingerprint } from '../../src/environment/machine/schema.js';

const INTEL_FLAGS =
  'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm ' +
  'constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand ' +
  'hypervisor lahf_lm abm 3dnowprefetch invpcid_single pti fsgsbase bmi1 hle avx2 smep bmi2 erms invpcid rtm avx512f avx512dq rdseed adx smap ' +
  'clflushopt clwb avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_vnni arat avx512_bf16';

const processor = (n: number) => `processor\t: ${n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz
stepping\t: 6
cpu MHz\t\t: 2793.437
cache size\t: 49152 KB
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 1
flags\t\t: ${INTEL_FLAGS}
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs
bogomips\t: 5586.87
clflush size\t: 64
address sizes\t: 46 bits physical, 48 bits virtual
power management:
`;

const INTEL_CPUINFO = `${processor(0)}\n${processor(1)}\n`;

// AWS Graviton2: arm64 kernels print no model name, only the implementer and part ids.
const armProcessor = (index: number) => `processor\t: ${index}
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1
`;

const GRAVITON2_CPUINFO = `${armProcessor(0)}\n${armProcessor(1)}`;

describe('parseCpuinfo', () => {
  it('reads the model name and keeps only the relevant x86 flags, sorted and once', () => {
    expect(parseCpuinfo(INTEL_CPUINFO)).toEqual({
      cpu: 'Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz',
      isa: ['avx', 'avx2', 'avx512_bf16', 'avx512_vnni', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl', 'f16c', 'fma', 'sse4_2'],
    });
  });

  it('names an arm64 CPU by its implementer and part, from its Features', () => {
    expect(parseCpuinfo(GRAVITON2_CPUINFO)).toEqual({ cpu: 'ARM Neoverse-N1', isa: ['asimd', 'asimddp', 'asimdhp'] });
  });

  it('shows an unknown arm part by its ids', () => {
    expect(parseCpuinfo('CPU implementer\t: 0xc0\nCPU part\t: 0xac3\nFeatures\t: fp asimd sve sve2\n')).toEqual({ cpu: 'Ampere part 0xac3', isa: ['asimd', 'sve', 'sve2'] });
  });

  it('gives no model and no flags for text it does not know', () => {
    expect(parseCpuinfo('')).toEqual({ isa: [] });
  });
});

describe('parseNvidiaSmi', () => {
  it('reads one GPU a line with its driver', () => {
    const text = 'NVIDIA A100-SXM4-40GB, 535.104.05\nNVIDIA A100-SXM4-40GB, 535.104.05\n';
    expect(parseNvidiaSmi(text)).toEqual([
      { name: 'NVIDIA A100-SXM4-40GB', driver: '535.104.05' },
      { name: 'NVIDIA A100-SXM4-40GB', driver: '535.104.05' },
    ]);
  });

  it('finds no GPU in empty output or in a message', () => {
    expect(parseNvidiaSmi('')).toEqual([]);
    expect(parseNvidiaSmi('No devices were found\n')).toEqual([]);
  });
});

describe('isaLevel', () => {
  it.each([
    [['avx', 'avx2', 'avx512f', 'fma', 'sse4_2'], 'AVX-512'],
    [['avx', 'avx2', 'fma', 'sse4_2'], 'AVX2'],
    [['avx', 'sse4_2'], 'AVX'],
    [['sse4_2'], 'SSE4.2'],
    [['asimd', 'sve', 'sve2'], 'SVE'],
    [['asimd', 'asimddp'], 'NEON'],
    [[], 'baseline'],
  ])('%j → %s', (isa, level) => {
    expect(isaLevel(isa)).toBe(level);
  });
});

describe('blasName and describeMachine', () => {
  it('names the BLAS by its threadpoolctl internal_api, and an unknown one as given', () => {
    expect(blasName([{ api: 'blas', library: 'mkl' }])).toBe('MKL');
    expect(blasName([{ api: 'openmp', library: 'openmp' }, { api: 'blas', library: 'openblas' }, { api: 'blas', library: 'blis' }])).toBe('BLIS + OpenBLAS');
    expect(blasName([{ api: 'blas', library: 'acmlblas' }])).toBe('acmlblas');
    expect(blasName([{ api: 'openmp', library: 'openmp' }])).toBeUndefined();
    expect(blasName(undefined)).toBeUndefined();
  });

  it('describes a machine by its level, BLAS and thread count', () => {
    expect(describeMachine(machine({ isa: AVX2, libraries: [openblas(8)] }))).toBe('AVX2 with OpenBLAS (8 threads)');
    expect(describeMachine(machine({ isa: AVX512, libraries: [{ api: 'blas', library: 'mkl' }] }))).toBe('AVX-512 with MKL');
    expect(describeMachine(machine({ cpu: 'Apple M2', isa: [], libraries: undefined }))).toBe('Apple M2');
  });

  it.each([
    ['Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz', 'Intel Xeon Platinum 8370C'],
    ['AMD EPYC 7763 64-Core Processor', 'AMD EPYC 7763'],
    ['Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz', 'Intel Core i7-8700'],
    ['AMD Ryzen 7 5800H with Radeon Graphics', 'AMD Ryzen 7 5800H'],
    ['ARM Neoverse-N1', 'ARM Neoverse-N1'],
  ])('shortens %s to %s', (model, short) => {
    expect(shortCpuName(model)).toBe(short);
  });
});

const AVX512 = ['avx', 'avx2', 'avx512bw', 'avx512f', 'fma', 'sse4_2'];
const AVX2 = ['avx', 'avx2', 'fma', 'sse4_2'];

function openblas(threads: number, version = '0.3.27'): NonNullable<MachineFingerprint['libraries']>[number] {
  return { api: 'blas', library: 'openblas', version, threads, architecture: 'Haswell' };
}

function machine(overrides: Partial<MachineFingerprint> = {}): MachineFingerprint {
  return {
    cpu: 'Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz',
    isa: AVX512,
    cores: 8,
    libraries: [openblas(8), { api: 'openmp', library: 'openmp', version: null, threads: 8 }],
    gpus: [{ name: 'NVIDIA A100-SXM4-40GB', driver: '535.104.05', cuda: '12.1', cudnn: '8902' }],
    ...overrides,
  };
}

describe('machineChanges', () => {
  it('finds nothing between identical machines', () => {
    expect(machineChanges(machine(), machine())).toBeUndefined();
  });

  it('leads with the vector level and BLAS', () => {
    const recorded = machine({ isa: AVX512, libraries: [{ api: 'blas', library: 'mkl', version: '2023.2', threads: 8 }] });
    const actual = machine({ cpu: 'AMD EPYC 7763 64-Core Processor', isa: AVX2, libraries: [openblas(8)] });
    expect(machineChanges(recorded, actual)).toEqual({
      subject: 'recorded on AVX-512 with MKL, rerun on AVX2 with OpenBLAS',
      details: ['ISA flags lost: avx512bw, avx512f', 'BLAS MKL → OpenBLAS', 'CPU Intel Xeon Platinum 8370C → AMD EPYC 7763'],
    });
  });

  it('counts a change of thread count alone: OpenBLAS splits its reductions by it', () => {
    const actual = machine({ cores: 2, libraries: [openblas(2), { api: 'openmp', library: 'openmp', version: null, threads: 2 }] });
    expect(machineChanges(machine(), actual)).toEqual({
      subject: 'recorded on AVX-512 with OpenBLAS (8 threads), rerun on AVX-512 with OpenBLAS (2 threads)',
      details: ['BLAS threads 8 → 2', 'OpenMP threads 8 → 2'],
    });
  });

  it('shows the BLAS versions when they are what changed', () => {
    const actual = machine({ libraries: [openblas(8, '0.3.21'), { api: 'openmp', library: 'openmp', version: null, threads: 8 }] });
    expect(machineChanges(machine(), actual)?.subject).toBe('recorded on AVX-512 with OpenBLAS 0.3.27, rerun on AVX-512 with OpenBLAS 0.3.21');
  });

  it('names the CPU models when only they differ', () => {
    expect(machineChanges(machine(), machine({ cpu: 'AMD EPYC 9654 96-Core Processor' }))).toEqual({
      subject: 'recorded on Intel Xeon Platinum 8370C, rerun on AMD EPYC 9654',
      details: ['CPU Intel Xeon Platinum 8370C → AMD EPYC 9654'],
    });
  });

  it('ignores a different clock of the same model', () => {
    expect(machineChanges(machine(), machine({ cpu: 'Intel(R) Xeon(R) Platinum 8370C CPU @ 2.90GHz' }))).toBeUndefined();
  });

  it('reports a GPU driver change alone', () => {
    const actual = machine({ gpus: [{ name: 'NVIDIA A100-SXM4-40GB', driver: '550.54.15', cuda: '12.1', cudnn: '8902' }] });
    expect(machineChanges(machine(), actual)).toEqual({ subject: 'GPU driver 535.104.05 → 550.54.15', details: ['GPU driver 535.104.05 → 550.54.15'] });
  });

  it('names the GPUs, and a rerun without one', () => {
    const t4 = machine({ gpus: [{ name: 'NVIDIA T4', driver: '535.104.05', cuda: '12.4', cudnn: '8902' }] });
    expect(machineChanges(machine(), t4)).toEqual({ subject: 'recorded on NVIDIA A100-SXM4-40GB, rerun on NVIDIA T4', details: ['GPU NVIDIA A100-SXM4-40GB → NVIDIA T4', 'CUDA 12.1 → 12.4'] });
    expect(machineChanges(machine(), machine({ gpus: undefined }))?.subject).toBe('recorded on NVIDIA A100-SXM4-40GB, rerun without a GPU');
  });

  it('does not read a side that was not measured as a change', () => {
    expect(machineChanges(machine(), machine({ isa: [], libraries: undefined }))).toBeUndefined();
  });
});

describe('MachineFingerprintSchema', () => {
  it('accepts a full fingerprint', () => {
    const full = machine({ libraries: [openblas(8), { api: 'openmp', library: 'openmp', version: null, threads: 8 }, { api: 'other', library: 'libfoo.so', version: null }] });
    expect(MachineFingerprintSchema.parse(full)).toEqual(full);
  });

  it('rejects a key it does not know', () => {
    expect(MachineFingerprintSchema.safeParse({ ...machine(), memory: '64GB' }).success).toBe(false);
    expect(MachineFingerprintSchema.safeParse(machine({ gpus: [{ name: 'NVIDIA T4', vram: 16 } as never] })).success).toBe(false);
  });
});

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, program)));
}

describe('collectHostFingerprint', () => {
  it('measures this machine into a valid fingerprint', async () => {
    const host = await collectHostFingerprint();
    expect(host.cpu.length).toBeGreaterThan(0);
    expect(host.cores).toBeGreaterThanOrEqual(1);
    expect(host.isa.every((flag) => RELEVANT_ISA_FLAGS.has(flag))).toBe(true);
    expect(MachineFingerprintSchema.safeParse(host).success).toBe(true);
    if (!onPath('nvidia-smi')) expect(host.gpus).toBeUndefined();
  });

  it('keeps few enough flags for the schema', () => {
    expect(RELEVANT_ISA_FLAGS.size).toBeLessThanOrEqual(MAX_ISA_FLAGS);
  });
});
