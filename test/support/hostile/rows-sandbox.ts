import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx, Row } from './harness.js';
import { baseRecord, HI, HI_SHA256, OUTPUTS, python } from './records.js';

// A training is the pull request's code: it must not see the runner's secrets or the host's environment, must not
// write into the repository (by absolute path, through $GITHUB_WORKSPACE, with `cd ../..`, into .git), must not
// reach the user's files through a tracked link, and must not outlive verify.

const SECRETS: Record<string, string> = {
  GITHUB_TOKEN: 'ghs_hostileFakeToken0000000000000000000',
  'INPUT_GITHUB-TOKEN': 'ghs_hostileFakeInput00000000000000000000',
  ACTIONS_RUNTIME_TOKEN: 'hostile-fake-runtime-token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'hostile-fake-id-token',
};

/**
 * Walks the PPid chain from itself up to (not including) the test process, reading every ancestor's
 * /proc/PID/environ; also looks for the values in any file under its TMPDIR and repro-gate's (a secrets hand-off
 * left behind). The values travel hex-encoded, so the record and logs that carry this command never match.
 * Writes {"leaks": N}; fails on a leak.
 */
const ANCESTOR_WALK = [
  'import glob, json, os, re, sys',
  'stop = int(sys.argv[1])',
  'names = set(sys.argv[2].split(","))',
  'values = [bytes.fromhex(v) for v in sys.argv[3].split(",")]',
  'found = []',
  'pid = os.getpid()',
  'while pid > 1 and pid != stop:',
  '    try:',
  '        env = open("/proc/%d/environ" % pid, "rb").read()',
  '    except OSError:',
  '        env = b""',
  '    for entry in env.split(b"\\0"):',
  '        name = entry.split(b"=", 1)[0].decode(errors="replace")',
  '        if name in names or any(v in entry for v in values):',
  '            found.append("%d:%s" % (pid, name))',
  '    status = open("/proc/%d/status" % pid).read()',
  '    pid = int(re.search(r"^PPid:\\s*(\\d+)", status, re.M).group(1))',
  'roots = [os.environ.get("TMPDIR", "/tmp"), sys.argv[4]]',
  'files = [os.path.join(d, f) for root in roots for d, _, fs in os.walk(root) for f in fs] + glob.glob("/tmp/repro-gate-handoff-*/*")',
  'for file in files:',
  '    if os.path.islink(file) or not os.path.isfile(file):',
  '        continue',
  '    try:',
  '        content = open(file, "rb").read(1 << 20)',
  '    except OSError:',
  '        continue',
  '    if any(v in content for v in values):',
  '        found.append("file:" + file)',
  'os.makedirs("out", exist_ok=True)',
  'json.dump({"leaks": len(found)}, open("out/m.json", "w"))',
  'if found:',
  '    print("secret visible to the training:", found)',
  '    sys.exit(3)',
].join('\n');

/** Writes {"<name>_visible": 0|1} for each variable name given, to out/m.json. */
const VISIBLE = [
  'import json, os, sys',
  'os.makedirs("out", exist_ok=True)',
  'json.dump({name.lower() + "_visible": int(name in os.environ) for name in sys.argv[1:]}, open("out/m.json", "w"))',
].join('\n');

/** A relative path from the command's folder to the repository, computed at run time wherever the copy is. */
const RELATIVE_TO = (target: string) => `"$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1]))' ${target})"`;

const FSMONITOR = (ctx: Ctx) => `[core]\\n\\tfsmonitor = touch ${path.join(ctx.outside, 'fsmonitor-ran')}\\n`;
const HOOK = (ctx: Ctx) => `#!/bin/sh\\ntouch ${path.join(ctx.outside, 'hook-ran')}\\n`;
/** Plants core.fsmonitor and hooks git may run (index change, checkout, commit) in the git folder at $1. */
const PLANT = (ctx: Ctx) =>
  [
    `printf '${FSMONITOR(ctx)}' >> "$G/config"`,
    ...['post-index-change', 'post-checkout', 'pre-commit'].map((hook) => `printf '${HOOK(ctx)}' > "$G/hooks/${hook}" && chmod +x "$G/hooks/${hook}"`),
  ].join(' && ');
const PLANTED = ['.git/config', '.git/hooks/post-index-change', '.git/hooks/post-checkout', '.git/hooks/pre-commit'];
const MARKERS = (ctx: Ctx) => [path.join(ctx.outside, 'fsmonitor-ran'), path.join(ctx.outside, 'hook-ran')];

const REPO_FILES = { '.gitignore': 'out/\n', 'notes.txt': 'tracked notes\n' };
/** What an escaping write touches: a new file and a tracked one. */
const ESCAPED = ['pwned.txt', 'notes.txt'];
const WRITE_INTO = (dir: string) => `printf 'pwned\\n' > ${dir}/pwned.txt && printf 'changed\\n' >> ${dir}/notes.txt`;

const REPRODUCED = [/reproduced/];

/**
 * A long-running process that carries the row's marker in its command line. It says when it is set up (its own
 * session, its signal handlers) with a file in its folder, so the command can wait for that and no row depends on
 * the race between the daemon's start and the command's end.
 */
const SLEEPER = (ctx: Ctx, extra = '') => python(`import signal, time${extra}\nopen(".daemon-ready", "w").close()\ntime.sleep(300)`, ctx.marker);
const READY = 'until [ -e .daemon-ready ]; do sleep 0.05; done';

/** The tracked real/model.pkl's identity after the commit: deleting and rewriting it (same bytes) still shows. */
async function noteRealModel(ctx: Ctx): Promise<void> {
  const stats = await stat(path.join(ctx.root, 'real', 'model.pkl'));
  await writeFile(path.join(ctx.outside, 'real-model.json'), JSON.stringify({ ino: stats.ino, mtimeMs: stats.mtimeMs }));
}

async function realModelUntouched(_result: unknown, ctx: Ctx, fail: (message: string) => void): Promise<void> {
  const noted = JSON.parse(await readFile(path.join(ctx.outside, 'real-model.json'), 'utf8')) as { ino: number; mtimeMs: number };
  const now = await stat(path.join(ctx.root, 'real', 'model.pkl')).catch(() => undefined);
  if (!now) return fail('the tracked real/model.pkl is gone');
  if ((await readFile(path.join(ctx.root, 'real', 'model.pkl'), 'utf8')) !== HI) fail('the tracked real/model.pkl changed');
  if (now.ino !== noted.ino || now.mtimeMs !== noted.mtimeMs) fail('the tracked real/model.pkl was deleted or rewritten (its inode or mtime changed)');
}

export const SANDBOX_ROWS: Row[] = [
  {
    name: "no token in any ancestor's /proc/PID/environ (GITHUB_TOKEN, INPUT_GITHUB-TOKEN, ACTIONS_*) nor in a temporary file",
    record: (ctx) =>
      baseRecord({
        command: `${python(ANCESTOR_WALK, String(ctx.testPid), `'${Object.keys(SECRETS).join(',')}'`, Object.values(SECRETS).map((value) => Buffer.from(value).toString('hex')).join(','), ctx.tmp)} && mkdir -p out && printf 'hi\\n' > out/a.txt`,
        metrics: { path: 'out/m.json', values: { leaks: 0 } },
      }),
    env: SECRETS,
    expect: { status: 0, culprit: REPRODUCED, verdict: 'reproduced' },
  },
  {
    name: 'the rerun environment is an allowlist: FOO_SECRET and other host variables are withheld',
    record: baseRecord({
      command: `${python(VISIBLE, 'FOO_SECRET', 'AWS_SECRET_ACCESS_KEY', 'HOSTILE_RANDOM_VARIABLE')} && mkdir -p out && printf 'hi\\n' > out/a.txt`,
      metrics: { path: 'out/m.json', values: { foo_secret_visible: 0, aws_secret_access_key_visible: 0, hostile_random_variable_visible: 0 } },
    }),
    env: { FOO_SECRET: 'x', AWS_SECRET_ACCESS_KEY: 'hostile-fake-aws', HOSTILE_RANDOM_VARIABLE: 'y' },
    expect: { status: 0, culprit: REPRODUCED, verdict: 'reproduced' },
  },
  {
    name: 'environment.pass_env: [FOO_SECRET] lets exactly that variable through',
    record: baseRecord({
      command: `${python(VISIBLE, 'FOO_SECRET', 'AWS_SECRET_ACCESS_KEY')} && mkdir -p out && printf 'hi\\n' > out/a.txt`,
      environment: { pass_env: ['FOO_SECRET'] },
      metrics: { path: 'out/m.json', values: { foo_secret_visible: 1, aws_secret_access_key_visible: 0 } },
    }),
    env: { FOO_SECRET: 'x', AWS_SECRET_ACCESS_KEY: 'hostile-fake-aws' },
    expect: { status: 0, culprit: REPRODUCED, verdict: 'reproduced' },
  },

  // ── writes into the repository ──────────────────────────────────────────────────────────────────────────────
  {
    name: 'plants core.fsmonitor and hooks into the real .git through a ../..-style relative path: never run, never "reproduced"',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `G=${RELATIVE_TO(path.join(ctx.root, '.git'))} && ${PLANT(ctx)} && ${OUTPUTS}` }),
    expect: { status: 2, culprit: [], absent: MARKERS, escape: { paths: PLANTED, clean: { status: 0, culprit: REPRODUCED } } },
  },
  {
    name: 'plants core.fsmonitor and hooks into $GITHUB_WORKSPACE/.git: never run; if the repository was written, an error',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `G="\${GITHUB_WORKSPACE:-${ctx.root}}/.git" && mkdir -p "$G/hooks" && ${PLANT(ctx)} && ${OUTPUTS}` }),
    env: (ctx) => ({ GITHUB_WORKSPACE: ctx.root }),
    expect: { status: 2, culprit: [], absent: MARKERS, escape: { paths: PLANTED, clean: { status: 0, culprit: REPRODUCED } } },
  },
  {
    name: 'plants a fake .git with core.fsmonitor in its own copy: never run',
    record: (ctx) => baseRecord({ command: `mkdir -p .git/hooks && printf 'ref: refs/heads/main\\n' > .git/HEAD && G=.git && ${PLANT(ctx)} && ${OUTPUTS}` }),
    expect: { status: 0, culprit: REPRODUCED, absent: MARKERS },
  },
  {
    name: 'writes into the repository by absolute path: an error naming the files',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `${WRITE_INTO(ctx.root)} && ${OUTPUTS}` }),
    expect: { status: 2, culprit: [], escape: { paths: ESCAPED, clean: { status: 0, culprit: REPRODUCED } } },
  },
  {
    name: 'writes into the repository through $GITHUB_WORKSPACE: an error naming the files (or the variable leads to the copy)',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `${WRITE_INTO(`"\${GITHUB_WORKSPACE:-${ctx.root}}"`)} && ${OUTPUTS}` }),
    env: (ctx) => ({ GITHUB_WORKSPACE: ctx.root }),
    expect: { status: 2, culprit: [], escape: { paths: ESCAPED, clean: { status: 0, culprit: REPRODUCED } } },
  },
  {
    name: 'writes into the repository with a cd ../..-style relative path: an error naming the files',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `${OUTPUTS} && cd ${RELATIVE_TO(ctx.root)} && ${WRITE_INTO('.')}` }),
    expect: { status: 2, culprit: [], escape: { paths: ESCAPED, clean: { status: 0, culprit: REPRODUCED } } },
  },
  {
    name: 'deletes a tracked file of the repository by absolute path: an error naming it',
    files: REPO_FILES,
    record: (ctx) => baseRecord({ command: `rm ${ctx.root}/notes.txt && ${OUTPUTS}` }),
    expect: { status: 2, culprit: [], escape: { paths: ['notes.txt'], clean: { status: 0, culprit: REPRODUCED } } },
  },

  // ── tracked links ───────────────────────────────────────────────────────────────────────────────────────────
  {
    name: 'tracked link out -> /abs/path/of/repo/real with artifact out/model.pkl: the tracked real/model.pkl survives',
    files: (ctx) => ({ '.gitignore': 'tmp/\n', 'real/model.pkl': HI, out: { symlink: path.join(ctx.root, 'real') } }),
    afterCommit: noteRealModel,
    record: baseRecord({ command: `printf 'hi\\n' > out/model.pkl`, artifacts: [{ path: 'out/model.pkl', sha256: HI_SHA256 }], metrics: undefined }),
    expect: {
      status: 0,
      culprit: REPRODUCED,
      check: realModelUntouched,
    },
  },
  {
    name: 'the same absolute link used as workdir: the tracked real/model.pkl survives',
    files: (ctx) => ({ '.gitignore': 'tmp/\n', 'real/model.pkl': HI, out: { symlink: path.join(ctx.root, 'real') } }),
    afterCommit: noteRealModel,
    record: baseRecord({ command: `printf 'hi\\n' > model.pkl`, workdir: 'out', artifacts: [{ path: 'out/model.pkl', sha256: HI_SHA256 }], metrics: undefined }),
    expect: {
      status: 0,
      culprit: REPRODUCED,
      check: realModelUntouched,
    },
  },
  {
    name: 'a tracked link leading outside the repository is not a way out: the command cannot write through it',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'kept.txt'), 'kept\n');
      return { '.gitignore': 'out/\n', cache: { symlink: ctx.outside } };
    },
    record: baseRecord({ command: `{ rm -f cache/kept.txt; mkdir -p cache && printf 'pwned\\n' > cache/pwned.txt; } 2>/dev/null; ${OUTPUTS}` }),
    expect: {
      status: 0,
      culprit: [/reproduced/, /cache/],
      check: async (_result, ctx, fail) => {
        if ((await readFile(path.join(ctx.outside, 'kept.txt'), 'utf8').catch(() => undefined)) !== 'kept\n') fail('the command deleted a file outside the repository through the link');
        if (await readFile(path.join(ctx.outside, 'pwned.txt')).then(() => true, () => false)) fail('the command wrote outside the repository through the link');
      },
    },
  },

  // ── processes that outlive the command ──────────────────────────────────────────────────────────────────────
  {
    name: 'a daemon started with setsid is killed; verify returns within 15 s',
    record: (ctx) => baseRecord({ command: `setsid ${SLEEPER(ctx)} > /dev/null 2>&1 < /dev/null & ${READY}; ${OUTPUTS}` }),
    limitSeconds: 25,
    expect: { status: 0, culprit: REPRODUCED, maxSeconds: 15 },
  },
  {
    name: 'a daemon that drops REPRO_GATE_RUN_ID (env -u) and holds stdout open is killed; verify returns within 15 s',
    record: (ctx) => baseRecord({ command: `env -u REPRO_GATE_RUN_ID setsid ${SLEEPER(ctx)} & ${READY}; ${OUTPUTS}` }),
    limitSeconds: 25,
    expect: { status: 0, culprit: REPRODUCED, maxSeconds: 15 },
  },
  {
    name: 'a setsid daemon that ignores SIGTERM and SIGHUP and holds stderr open is killed',
    record: (ctx) =>
      baseRecord({ command: `setsid ${SLEEPER(ctx, '\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)')} > /dev/null & ${READY}; ${OUTPUTS}` }),
    limitSeconds: 25,
    expect: { status: 0, culprit: REPRODUCED, maxSeconds: 15 },
  },
  {
    name: 'a double-forked background child (same process group) is killed',
    record: (ctx) => baseRecord({ command: `( ${SLEEPER(ctx)} & ) ; ${READY}; ${OUTPUTS}` }),
    limitSeconds: 25,
    expect: { status: 0, culprit: REPRODUCED, maxSeconds: 15 },
  },
  {
    name: 'timeout: 2s kills a sleeping command and its children, naming timeout',
    record: (ctx) => baseRecord({ timeout: '2s', command: `${SLEEPER(ctx)} & ${SLEEPER(ctx)}` }),
    limitSeconds: 25,
    expect: { status: 2, culprit: [/run\.yaml:\d+ timeout/], maxSeconds: 15 },
  },
  {
    name: 'timeout: 2s kills a command that ignores SIGTERM',
    record: (ctx) => baseRecord({ timeout: '2s', command: `trap '' TERM; ${SLEEPER(ctx, '\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)')}` }),
    limitSeconds: 25,
    expect: { status: 2, culprit: [/run\.yaml:\d+ timeout/], maxSeconds: 15 },
  },
  {
    name: 'a command that reads stdin does not hang',
    record: baseRecord({ command: `mkdir -p out && cat > out/in.txt && ${OUTPUTS}`, artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }, { path: 'out/in.txt', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }] }),
    limitSeconds: 25,
    expect: { status: 0, culprit: REPRODUCED, maxSeconds: 20 },
  },
];
