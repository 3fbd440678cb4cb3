import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installProbe, type InstalledProbe } from '../../src/rerun/probe/install-probe.js';
import { readTrace } from '../../src/rerun/probe/read-trace.js';

// The probe's view of what a training read, in a real interpreter: the learned input set stands on it.

describe('the probe lists the files a run read', () => {
  const probes: InstalledProbe[] = [];
  afterAll(async () => {
    await Promise.all(probes.map((probe) => probe.dispose()));
  });

  async function run(program: string, files: Record<string, string> = {}) {
    const root = await realpath(await mkdtemp(path.join(tmpdir(), 'repro-gate-reads-')));
    for (const [relative, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
      await writeFile(path.join(root, relative), content);
    }
    const probe = await installProbe();
    probes.push(probe);
    execFileSync('python3', ['-c', program], { cwd: root, env: { PATH: process.env.PATH, ...probe.environment(root, undefined, ['data']) } });
    const trace = await readTrace(probe.traceFile);
    // The files read and the folders listed, relative to the run's folder.
    const inRun = (paths: string[]) => paths.map((file) => path.relative(root, file));
    return { trace, read: inRun(trace.readFiles), listed: inRun(trace.listedFolders) };
  }

  it('sees every read of a pool of threads, opened for reading or updating, and none of the declared data', async () => {
    const files = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`modules/m${i}.txt`, `${i}\n`]));
    const program = [
      'import concurrent.futures, os',
      'names = sorted(os.listdir("modules"))',
      'with concurrent.futures.ThreadPoolExecutor(16) as pool:',
      '    list(pool.map(lambda name: open(os.path.join("modules", name)).read(), names))',
      'open("state.txt", "r+").read()',
      'open("data/big.bin", "rb").read()',
      'open("written.txt", "w").write("x")',
    ].join('\n');
    const { trace, read: readList } = await run(program, { ...files, 'state.txt': 's', 'data/big.bin': 'b' });
    const read = new Set(readList);
    expect(Object.keys(files).filter((file) => !read.has(file))).toEqual([]);
    expect(read.has('state.txt')).toBe(true);
    expect(read.has('data/big.bin')).toBe(false);
    expect(read.has('written.txt')).toBe(false);
    expect(trace.readTruncated).toBe(false);
  });

  it('sees the folders a run listed (os.walk, glob, pathlib, the import system searching its path), and no other', async () => {
    const program = [
      'import glob, os, pathlib, sys',
      'list(os.walk("tree"))',
      'glob.glob("globbed/*.txt")',
      'list(pathlib.Path("paths").iterdir())',
      'sys.path.insert(0, os.path.abspath("pkgs"))',
      'import helper',
      'open("untouched/file.txt").read()',
    ].join('\n');
    const files = { 'tree/a/b/x.txt': 'x', 'globbed/y.txt': 'y', 'paths/z.txt': 'z', 'pkgs/helper.py': 'VALUE = 1\n', 'untouched/file.txt': 'u' };
    const { trace, listed } = await run(program, files);
    expect(listed).toEqual(expect.arrayContaining(['tree', 'tree/a', 'tree/a/b', 'globbed', 'paths', 'pkgs']));
    expect(listed).not.toContain('untouched');
    expect(trace.listedTruncated).toBe(false);
  });

  it('places a listing by descriptor (shutil.rmtree), the folders put on the import path (even ones that do not exist yet) and those of files looked for', async () => {
    const program = [
      'import os, shutil, sys',
      'os.makedirs("scratch/tmp")',
      'shutil.rmtree("scratch")',
      'sys.path.insert(0, "vendor/lib")',
      // On the path only while one import ran: the import itself says where it looked.
      'sys.path.insert(0, "plugins")',
      'import colorsys',
      'sys.path.pop(0)',
      // A file looked for and not found: a file added there later is what the training would find.
      'for _ in range(60):',
      '    try:',
      '        open("flags/stop.flag")',
      '    except OSError:',
      '        pass',
    ].join('\n');
    const { trace, listed } = await run(program);
    expect(listed).toEqual(expect.arrayContaining(['scratch', 'scratch/tmp', 'vendor/lib', 'plugins', 'flags', '']));
    expect(trace.listedTruncated).toBe(false);
  });

  it('marks the listing incomplete when it cannot place a folder listed by descriptor', async () => {
    const { trace } = await run('import os\ntry:\n    os.listdir(987)\nexcept OSError:\n    pass');
    expect(trace.listedTruncated).toBe(true);
  });

  it('names the children it does not run in: a shell, a tool, a Python without its PYTHONPATH or started with -I', async () => {
    const program = [
      'import os, subprocess, sys',
      'os.system("true")',
      'subprocess.run(["true"])',
      'subprocess.run([sys.executable, "-c", "pass"], env={"PATH": os.environ["PATH"]})',
      'subprocess.run([sys.executable, "-I", "-c", "pass"])',
      'subprocess.run([sys.executable, "-c", "pass"])',
    ].join('\n');
    const { trace } = await run(program);
    expect(trace.unprobedChildren).toHaveLength(4);
    expect(trace.unprobedChildren[0]).toBe('true');
    expect(trace.unprobedChildren[3]).toMatch(/ -I -c pass$/);
    // The probed child is one more process of the run.
    expect(trace.processes.length).toBeGreaterThanOrEqual(2);
  });
});
