import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CONTAINER_NAME_PREFIX } from '../../constants.js';
import { UserError } from '../../errors.js';
import { lastLine } from '../exec.js';
import { parseFreeze } from '../package-diff.js';
import { runtimeCommand } from './client.js';
import { containerRunArguments, invokingUser } from './run-arguments.js';
import type { ContainerRuntime } from './runtime.js';

// What an image holds, read from inside it (no network, no mounts): its Python, its PATH (the rerun's PATH starts
// from it), and its packages, pip's freeze or, where the image has no pip, the system's (dpkg-query).

const DESCRIBE_SOURCE = `
import json, os, platform, shutil, subprocess, sys, sysconfig
def listed():
    try:
        pip = subprocess.run([sys.executable, "-I", "-B", "-m", "pip", "freeze", "--all", "--disable-pip-version-check"], capture_output=True, text=True, timeout=300)
        if pip.returncode == 0:
            return "pip", pip.stdout
    except Exception:
        pass
    if shutil.which("dpkg-query"):
        dpkg = subprocess.run(["dpkg-query", "-W", "-f", "\${Package}==\${Version}\\\\n"], capture_output=True, text=True, timeout=300)
        if dpkg.returncode == 0:
            return "dpkg", dpkg.stdout
    return "none", ""
source, text = listed()
print(json.dumps({"version": platform.python_version(), "platform": sysconfig.get_platform(), "executable": sys.executable, "path": os.environ.get("PATH", ""), "source": source, "freeze": text}))
`;

const DescriptionSchema = z.object({
  version: z.string().min(1),
  platform: z.string().min(1),
  executable: z.string().min(1),
  path: z.string(),
  source: z.enum(['pip', 'dpkg', 'none']),
  freeze: z.string(),
});

export interface ImageDescription {
  /** Python's version inside the image, e.g. 3.11.2. */
  version: string;
  platform: string;
  /** The interpreter `python3` is inside the image. */
  executable: string;
  /** The image's own PATH: the rerun's PATH is built on it, never on the host's. */
  path: string;
  /** Where the package list came from. */
  source: 'pip' | 'dpkg' | 'none';
  packages: Record<string, string>;
}

function lastJsonLine(text: string): unknown {
  try {
    return JSON.parse(lastLine(text));
  } catch {
    return undefined;
  }
}

/** Runs `python3` inside the image to describe it; `python` is the interpreter to ask (a venv's, inside the image). */
export async function describeImage(runtime: ContainerRuntime, image: string, reference: string, python = 'python3'): Promise<ImageDescription> {
  const name = `${CONTAINER_NAME_PREFIX}describe-${randomUUID()}`;
  const args = containerRunArguments({
    runtime: runtime.name,
    image,
    name,
    user: invokingUser(),
    network: 'none',
    gpu: false,
    mounts: [],
    env: { HOME: '/tmp', PYTHONDONTWRITEBYTECODE: '1' },
    argv: [python, '-I', '-c', DESCRIBE_SOURCE],
  });
  const result = await runtimeCommand(runtime, args, { container: name });
  const parsed = result.code === 0 ? DescriptionSchema.safeParse(lastJsonLine(result.stdout)) : undefined;
  if (!parsed?.success) {
    const reason = result.code === null ? 'no answer in time' : lastLine(result.stderr) || `exit status ${result.code}`;
    throw new UserError(
      `could not read the Python environment inside the image ${reference}: ${python} failed (${reason})`,
      'The image must have python3 on its PATH; repro-gate reads its version and packages, and the probe that watches the rerun is Python.',
      { field: 'environment.image' },
    );
  }
  const { freeze, ...description } = parsed.data;
  return { ...description, packages: parseFreeze(freeze) };
}
