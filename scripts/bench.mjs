// `npm run bench`: verify's hashing throughput on a 1 GiB artifact against `openssl dgst -sha256`, and verify's peak RSS.
// Targets: at least 0.9x openssl's throughput, and under 150 MB peak RSS. Prints its figures; exits 1 when a target is missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const GIB = 1024 ** 3;
const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const repo = mkdtempSync(path.join(tmpdir(), 'repro-gate-bench-'));
const git = (...args) => execFileSync('git', ['-c', 'user.email=bench@example.com', '-c', 'user.name=bench', ...args], { cwd: repo });

/** Runs a command under python's getrusage, which sees the peak RSS of the command and its children. */
function runMeasured(command, args) {
  const probe = 'import resource, subprocess, sys\nstatus = subprocess.run(sys.argv[1:]).returncode\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\nsys.exit(status)';
  const result = spawnSync('python3', ['-c', probe, command, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const maxRssKiB = Number(result.stderr.trim().split('\n').at(-1));
  return { status: result.status, maxRssKiB, stderr: result.stderr };
}

try {
  writeFileSync(path.join(repo, '.gitignore'), 'out/\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'bench');
  const produce = `mkdir -p out && head -c ${GIB} /dev/zero > out/big.bin`;
  execFileSync(process.execPath, [cli, 'record', '--name', 'bench', '--artifact', 'out/big.bin', '--', produce], { cwd: repo, stdio: 'inherit' });
  git('add', 'run.yaml');
  git('commit', '-qm', 'record');

  const verify = runMeasured(process.execPath, [cli, 'verify', 'run.yaml', '--json', path.join(repo, 'report.json')]);
  if (verify.status !== 0) throw new Error(`verify exited ${verify.status}:\n${verify.stderr}`);
  const report = JSON.parse(readFileSync(path.join(repo, 'report.json'), 'utf8'));
  const compareMs = report.records[0].stages.find((stage) => stage.stage === 'compare').durationMs;

  const opensslStart = performance.now();
  execFileSync('openssl', ['dgst', '-sha256', path.join(repo, 'out', 'big.bin')]);
  const opensslMs = performance.now() - opensslStart;

  const verifyMiBs = GIB / 2 ** 20 / (compareMs / 1000);
  const opensslMiBs = GIB / 2 ** 20 / (opensslMs / 1000);
  const ratio = verifyMiBs / opensslMiBs;
  const rssMB = (verify.maxRssKiB * 1024) / 1e6;
  console.log(`verdict:                 ${report.verdict}`);
  console.log(`verify hashing (1 GiB):  ${compareMs} ms  = ${verifyMiBs.toFixed(0)} MiB/s`);
  console.log(`openssl dgst -sha256:    ${opensslMs.toFixed(0)} ms  = ${opensslMiBs.toFixed(0)} MiB/s`);
  console.log(`throughput ratio:        ${ratio.toFixed(2)}x openssl (target >= 0.90x)`);
  console.log(`verify peak RSS:         ${rssMB.toFixed(1)} MB (target < 150 MB)`);
  const ok = ratio >= 0.9 && rssMB < 150 && report.verdict === 'reproduced';
  console.log(ok ? 'bench: all targets met' : 'bench: TARGET MISSED');
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(repo, { recursive: true, force: true });
}
