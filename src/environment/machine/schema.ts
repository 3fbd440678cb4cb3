import { z } from 'zod';

// The machine a run happened on, as far as it moves floats: which vector instructions the kernels may use (AVX-512
// and AVX2 paths sum in different orders), which BLAS ran with how many threads, and the GPU stack. Measured, never
// written by hand; strict and bounded all the same, since a record is read from the pull request.

export const MAX_CPU_CHARS = 200;
export const MAX_GPUS = 16;
export const MAX_GPU_NAME_CHARS = 200;
export const MAX_VERSION_CHARS = 100;
export const MAX_ISA_FLAGS = 40;

const Library = z
  .object({
    api: z.enum(['blas', 'openmp', 'other']).describe('threadpoolctl user_api.'),
    library: z
      .string()
      .min(1)
      .max(100)
      .describe('threadpoolctl internal_api (openblas, mkl, blis, flexiblas, openmp), or the file name of a library it has no name for.'),
    version: z.string().max(MAX_VERSION_CHARS).nullable().optional().describe('As threadpoolctl reports it; null when the library does not say.'),
    threads: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Size of its thread pool: OpenBLAS, for one, splits a reduction by it, so the sums change with it.'),
    architecture: z
      .string()
      .max(100)
      .nullable()
      .optional()
      .describe('The kernels the library picked for this CPU, e.g. OpenBLAS SkylakeX or Haswell.'),
  })
  .strict();

const Gpu = z
  .object({
    name: z.string().min(1).max(MAX_GPU_NAME_CHARS).describe('As nvidia-smi names it, e.g. NVIDIA A100-SXM4-40GB.'),
    driver: z.string().min(1).max(MAX_VERSION_CHARS).optional().describe('NVIDIA driver version.'),
    cuda: z.string().min(1).max(40).optional().describe('CUDA runtime the framework uses (torch.version.cuda), not the highest the driver supports.'),
    cudnn: z.string().min(1).max(40).optional().describe('cuDNN version the framework loaded.'),
  })
  .strict();

export const MachineFingerprintSchema = z
  .object({
    cpu: z.string().min(1).max(MAX_CPU_CHARS).describe('CPU model name, e.g. "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz".'),
    isa: z
      .array(z.string().regex(/^[a-z0-9_]+$/, 'must be a CPU flag as /proc/cpuinfo spells it').max(40))
      .max(MAX_ISA_FLAGS)
      .describe('The instruction-set flags that decide which kernels run (avx2, avx512f, amx_tile, sve, ...), sorted; empty when unknown.'),
    cores: z.number().int().min(1).describe('Logical CPUs the process may run on.'),
    libraries: z
      .array(Library)
      .max(20)
      .optional()
      .describe('Native thread pools loaded by the run (threadpoolctl): BLAS and OpenMP, with versions and thread counts.'),
    gpus: z.array(Gpu).max(MAX_GPUS).optional().describe('NVIDIA GPUs; absent when there is none or nvidia-smi could not tell.'),
  })
  .strict()
  .describe('The hardware and native libraries behind a run, to explain float drift between a record and its rerun.');

export type MachineFingerprint = z.infer<typeof MachineFingerprintSchema>;
