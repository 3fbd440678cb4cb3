// Issue 14's figures for `npm run bench`, each beside the reference that standard tools set on the same files:
// 1. a data folder of 20,000 files of 25 KB: verify's sandbox and inputs stages (the data copied and hashed in one
//    pass) against `cp -r` of the folder plus `find | xargs -P$(nproc) openssl dgst -sha256` of it: target <= 1.5x;
// 2. one 1 GiB data file: the same stages against `cp` plus `openssl dgst -sha256`: target <= 1.0x;
// 3. 10,000 artifacts of 4 KB: verify's compare stage against `sha256sum` of the same files: target <= 1.0x;
// 4. peak RSS of each verify: target < 200 MB.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const RSS_PROBE = 'import resource, subprocess, sys\nstatus = subprocess.run(sys.argv[1:]).returncode\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\nsys.exit(status)';
const gitIn = (cwd, ...args) => execFileSync('git', ['-c', 'user.email=bench@example.com', '-c', 'user.name=bench', ...args], { cwd });
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Wall time of a shell command, the better of two runs (the first also warms the page cache, as verify's was). */
function timeShell(script, ...args) {
  const once = () => {
    const started = performance.now();
    execFileSync('sh', ['-c', script, 'sh', ...args], { stdio: 'ignore' });
    return performance.now() - started;
  };
  return Math.min(once(), once());
}

/** verify of `dir`'s run.yaml, the better of two runs: its stages (ms) by name, verdict and peak RSS (MB). */
function verifyStages(dir) {
  const json = path.join(dir, '..', `${path.basename(dir)}-report.json`);
  const runs = [0, 1].map(() => {
    const result = spawnSync('python3', ['-c', RSS_PROBE, process.execPath, cli, 'verify', 'run.yaml', '--json', json], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const record = JSON.parse(readFileSync(json, 'utf8')).records[0];
    if (record.verdict === 'error') throw new Error(`verify failed: ${record.error.message}\n${result.stderr}`);
    const stages = Object.fromEntries(record.stages.map((stage) => [stage.stage, stage.durationMs]));
    return { stages, verdict: record.verdict, rssMB: (Number(result.stderr.trim().split('\n').at(-1)) * 1024) / 1e6 };
  });
  rmSync(json, { force: true });
  const best = (pick) => Math.min(...runs.map(pick));
  return { stage: (name) => best((run) => run.stages[name] ?? 0), verdict: runs[1].verdict, rssMB: Math.max(...runs.map((run) => run.rssMB)) };
}

/** A git repository whose record's only input is `data` (git-ignored) and whose command is trivial. */
function dataRecord(dir, data, digest) {
  writeFileSync(path.join(dir, '.gitignore'), 'data/\nout/\n');
  writeFileSync(path.join(dir, 'run.yaml'), `version: 1\nname: scale\ncommand: mkdir -p out && echo ok > out/ok.txt\ndata:\n  - path: ${data}\n    sha256: ${digest}\nartifacts:\n  - path: out/ok.txt\n    sha256: ${sha('ok\n')}\n`);
  gitIn(dir, 'init', '-q');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'record');
}

function directoryDigest(folder) {
  return execFileSync('sh', ['-c', `cd "$1" && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -r -d '\\n' sha256sum | sha256sum | cut -d' ' -f1`, 'sh', folder], { encoding: 'utf8' }).trim();
}

function line(label, value) {
  console.log(`  ${label.padEnd(44)}${value}`);
}

function smallFiles(dir) {
  const folder = path.join(dir, 'data', 'imgs');
  const block = Buffer.alloc(25_000);
  for (let i = 0; i < 20_000; i++) {
    const sub = path.join(folder, `class-${i % 20}`);
    if (i < 20) mkdirSync(sub, { recursive: true });
    block.writeUInt32LE(i, 0);
    writeFileSync(path.join(sub, `img_${i}.jpg`), block);
  }
  dataRecord(dir, 'data/imgs', directoryDigest(folder));
  const copy = path.join(dir, '..', `${path.basename(dir)}-copy`);
  const verify = verifyStages(dir);
  const referenceMs = timeShell(`rm -rf "$2" && cp -r "$1" "$2" && find "$2" -type f -print0 | xargs -0 -P${availableParallelism()} -n 500 openssl dgst -sha256 > /dev/null; rm -rf "$2"`, folder, copy);
  const oursMs = verify.stage('sandbox') + verify.stage('inputs');
  const ratio = oursMs / referenceMs;
  console.log('');
  console.log(`data folder of 20,000 files of 25 KB (verdict ${verify.verdict}):`);
  line('verify sandbox + inputs stages:', `${oursMs.toFixed(0)} ms (sandbox ${verify.stage('sandbox')} ms, inputs ${verify.stage('inputs')} ms)`);
  line(`cp -r + find | xargs -P${availableParallelism()} openssl dgst:`, `${referenceMs.toFixed(0)} ms`);
  line('ratio:', `${ratio.toFixed(2)}x (target <= 1.5x)`);
  line('verify peak RSS:', `${verify.rssMB.toFixed(1)} MB (target < 200 MB)`);
  return ratio <= 1.5 && verify.rssMB < 200 && verify.verdict === 'reproduced';
}

function oneLargeFile(dir) {
  mkdirSync(path.join(dir, 'data'));
  const file = path.join(dir, 'data', 'big.bin');
  execFileSync('sh', ['-c', 'head -c 1073741824 /dev/urandom > "$1"', 'sh', file]);
  const digest = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
  dataRecord(dir, 'data/big.bin', digest);
  const verify = verifyStages(dir);
  const copy = path.join(dir, '..', `${path.basename(dir)}-big.bin`);
  const referenceMs = timeShell('cp "$1" "$2" && openssl dgst -sha256 "$2" > /dev/null; rm -f "$2"', file, copy);
  const oursMs = verify.stage('sandbox') + verify.stage('inputs');
  const ratio = oursMs / referenceMs;
  console.log('');
  console.log(`one 1 GiB data file (verdict ${verify.verdict}):`);
  line('verify sandbox + inputs stages:', `${oursMs.toFixed(0)} ms`);
  line('cp + openssl dgst -sha256:', `${referenceMs.toFixed(0)} ms`);
  line('ratio:', `${ratio.toFixed(2)}x (target <= 1.0x)`);
  line('verify peak RSS:', `${verify.rssMB.toFixed(1)} MB (target < 200 MB)`);
  return ratio <= 1.0 && verify.rssMB < 200 && verify.verdict === 'reproduced';
}

function manyArtifacts(dir) {
  const count = 10_000;
  const content = (i) => String(i).padStart(8, '0').repeat(512);
  writeFileSync(path.join(dir, 'write.cjs'), `const fs = require('node:fs'); fs.mkdirSync('out', { recursive: true });\nfor (let i = 0; i < ${count}; i++) fs.writeFileSync('out/a' + String(i).padStart(5, '0') + '.bin', String(i).padStart(8, '0').repeat(512));\n`);
  writeFileSync(path.join(dir, '.gitignore'), 'out/\n');
  const artifacts = Array.from({ length: count }, (_, i) => `  - path: out/a${String(i).padStart(5, '0')}.bin\n    sha256: ${sha(content(i))}`);
  writeFileSync(path.join(dir, 'run.yaml'), `version: 1\nname: artifacts\ncommand: '"${process.execPath}" write.cjs'\nartifacts:\n${artifacts.join('\n')}\n`);
  gitIn(dir, 'init', '-q');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'record');
  const verify = verifyStages(dir);
  // The same files for the reference: written once more, as the rerun wrote them in its sandbox.
  execFileSync(process.execPath, ['write.cjs'], { cwd: dir });
  const referenceMs = timeShell('cd "$1" && find out -type f -print0 | xargs -0 sha256sum > /dev/null', dir);
  const ratio = verify.stage('compare') / referenceMs;
  console.log('');
  console.log(`10,000 artifacts of 4 KB (verdict ${verify.verdict}):`);
  line('verify compare stage:', `${verify.stage('compare')} ms (load ${verify.stage('load')} ms)`);
  line('sha256sum of the same files:', `${referenceMs.toFixed(0)} ms`);
  line('ratio:', `${ratio.toFixed(2)}x (target <= 1.0x)`);
  line('verify peak RSS:', `${verify.rssMB.toFixed(1)} MB (target < 200 MB)`);
  return ratio <= 1.0 && verify.rssMB < 200 && verify.verdict === 'reproduced';
}

/** Runs the three cases, each in a folder of its own that is removed after; true when every target is met. */
export function benchScale() {
  const results = [smallFiles, oneLargeFile, manyArtifacts].map((bench) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'repro-gate-bench-scale-'));
    try {
      return bench(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return results.every(Boolean);
}
