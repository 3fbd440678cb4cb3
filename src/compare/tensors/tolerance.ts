import type { DType } from '../formats/tensor-file.js';
import type { Tolerance } from '../tolerance.js';

export interface NumericTolerance extends Tolerance {
  equalNan: boolean;
}

/**
 * Opting into `compare: numeric` accepts float noise, so each float dtype has the defaults of
 * `torch.testing.assert_close` (rel, abs); integers, bools and raw bytes stay exact.
 */
export const DTYPE_DEFAULT_TOLERANCE: Readonly<Partial<Record<DType, Tolerance>>> = {
  float16: { rel: 1e-3, abs: 1e-5 },
  bfloat16: { rel: 1.6e-2, abs: 1e-5 },
  float32: { rel: 1.3e-6, abs: 1e-5 },
  float64: { rel: 1e-7, abs: 1e-7 },
};

export interface ArtifactToleranceSpec {
  tolerance?: { abs?: number; rel?: number };
  /** Glob (`*` any run of characters, `?` one) → override; the first glob written that matches wins. */
  tensors?: Record<string, { abs?: number; rel?: number }>;
  equal_nan?: boolean;
}

function globPattern(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 's');
}

/** Resolves each tensor's tolerance field by field: its glob override, then the artifact's, then the dtype's default. */
export function toleranceResolver(spec: ArtifactToleranceSpec): (name: string, dtype: DType) => NumericTolerance {
  const overrides = Object.entries(spec.tensors ?? {}).map(([glob, tolerance]) => ({ pattern: globPattern(glob), tolerance }));
  const equalNan = spec.equal_nan ?? false;
  return (name, dtype) => {
    const own = overrides.find((override) => override.pattern.test(name))?.tolerance;
    const fallback = DTYPE_DEFAULT_TOLERANCE[dtype] ?? { abs: 0, rel: 0 };
    return {
      abs: own?.abs ?? spec.tolerance?.abs ?? fallback.abs,
      rel: own?.rel ?? spec.tolerance?.rel ?? fallback.rel,
      equalNan,
    };
  };
}
