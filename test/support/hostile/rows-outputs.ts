import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Row, type RunResult, verifyArgs } from './harness.js';
import { baseRecord, baseText, HI, OUTPUTS, python, sha256 } from './records.js';

// What the rerun writes is untrusted too: metrics files that are not JSON objects, huge or deep or colliding,
// artifacts that are links to devices or to files outside the repository, FIFOs, floods of output, and the
// realistic large cases (thousands of artifacts and metrics) that must simply work.

const ARTIFACT = 'mkdir -p out && printf \'hi\\n\' > out/a.txt';
const REPRODUCED = [/reproduced/];

/** Writes `count` metrics k00000… = index to out/m.json. */
const MANY_METRICS = (count: number) => python(`import json, os\nos.makedirs("out", exist_ok=True)\njson.dump({"k%05d" % i: i for i in range(${count})}, open("out/m.json", "w"))`);
const manyValues = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${String(i).padStart(5, '0')}`, i]));

const ARTIFACT_COUNT = 10_000;
const artifactName = (i: number) => `out/a${String(i).padStart(5, '0')}.txt`;

/** A metric name for every trick a report renderer can fall for. */
const INJECTED_KEYS = ['<img src=x onerror=alert(1)>', '| x | y |', '@everyone #1', '[click](https://evil.example)', '<!-- repro-gate:sticky -->'];

/**
 * A record with tens of thousands of keys loads without the quadratic blow-up (verify's `load` stage in the JSON
 * report). Loose on purpose: under a second idle, a few on a loaded 2-core machine; the quadratic code took 19 s or more.
 */
function loadsQuickly(result: RunResult, _ctx: unknown, fail: (message: string) => void): void {
  const load = result.report?.records[0]?.stages.find((stage) => stage.stage === 'load');
  if (!load) fail('no load stage in the JSON report');
  else if (load.durationMs >= 10_000) fail(`the load stage took ${load.durationMs} ms (limit 10 s)`);
}

export const OUTPUT_ROWS: Row[] = [
  {
    name: 'metrics file that is not JSON: names the file',
    record: baseRecord({ command: `${ARTIFACT} && printf 'acc=0.9\\n' > out/m.json` }),
    expect: { status: 2, culprit: [/out\/m\.json/] },
  },
  {
    name: 'metrics file that is a JSON array: names the file',
    record: baseRecord({ command: `${ARTIFACT} && printf '[0.9]' > out/m.json` }),
    expect: { status: 2, culprit: [/out\/m\.json/] },
  },
  {
    name: 'metrics file missing: drift naming the file',
    record: baseRecord({ command: ARTIFACT }),
    expect: { status: 1, culprit: [/out\/m\.json/], verdict: 'drift' },
  },
  {
    name: 'flattened metric keys that collide ({"a.b": 1, "a": {"b": 2}}): names the key',
    record: baseRecord({ command: `${ARTIFACT} && printf '{"a.b": 1, "a": {"b": 2}}' > out/m.json`, metrics: { path: 'out/m.json', values: { 'a.b': 1 } } }),
    expect: { status: 2, culprit: [/a\.b/] },
  },
  {
    name: 'a NaN metric never matches a recorded NaN: drift naming the metric',
    record: `${baseText({ command: `${ARTIFACT} && printf '{"acc": NaN}' > out/m.json`, metrics: undefined })}metrics:\n  path: out/m.json\n  values:\n    acc: .nan\n`,
    expect: { status: 1, culprit: [/\bacc\b/], verdict: 'drift' },
  },
  {
    name: 'metrics file with a 10 MB string value: a clear outcome, no stack overflow',
    record: baseRecord({ command: `${ARTIFACT} && ${python('import json\njson.dump({"acc": 0.9, "note": "x\\\\\\"y" * 2500000}, open("out/m.json", "w"))')}` }),
    // The rule is the product's to choose: the string ignored (0) or refused, naming it (2).
    expect: { status: [0, 2], culprit: [/reproduced|out\/m\.json|note/], maxRssMB: 500 },
  },
  {
    name: 'metrics nested 100,000 levels deep: a clear outcome, no stack overflow',
    record: baseRecord({ command: `${ARTIFACT} && ${python('n = 100000\nopen("out/m.json", "w").write("{\\"acc\\": 0.9, \\"deep\\": " + "{\\"a\\": " * n + "1" + "}" * n + "}")')}` }),
    expect: { status: [0, 2], culprit: [/reproduced|out\/m\.json|deep/], maxRssMB: 500 },
  },
  {
    name: 'a 200 MB metrics file: refused (cap 64 MiB) naming the file, in bounded memory',
    record: baseRecord({
      command: `${ARTIFACT} && { printf '{"acc": 0.9, "pad": "'; head -c 209715200 /dev/zero | tr '\\0' x; printf '"}'; } > out/m.json`,
    }),
    expect: { status: 2, culprit: [/out\/m\.json/, /\b64(\.0+)? ?MiB|67[,.]?108[,.]?864/], maxRssMB: 500 },
  },
  {
    name: 'metrics file that is a FIFO: named, quickly',
    record: baseRecord({ command: `${ARTIFACT} && mkfifo out/m.json` }),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/out\/m\.json/], maxSeconds: 10 },
  },
  {
    name: 'an output that is a link to /dev/zero: named, quickly, in bounded memory',
    record: baseRecord({ command: `mkdir -p out && ln -s /dev/zero out/a.txt && printf '{"acc": 0.9}' > out/m.json` }),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/out\/a\.txt/], maxSeconds: 10, maxRssMB: 500 },
  },
  {
    name: 'an output that is a FIFO: named, quickly',
    record: baseRecord({ command: `mkdir -p out && mkfifo out/a.txt && printf '{"acc": 0.9}' > out/m.json` }),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/out\/a\.txt/], maxSeconds: 10 },
  },
  {
    name: 'an output that is a link to a file outside the repository (with that file\'s hash recorded): named, never reproduced',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'secret.txt'), HI);
      return { '.gitignore': 'out/\n' };
    },
    record: (ctx) => baseRecord({ command: `mkdir -p out && ln -s ${path.join(ctx.outside, 'secret.txt')} out/a.txt && printf '{"acc": 0.9}' > out/m.json` }),
    expect: { status: 2, culprit: [/out\/a\.txt/] },
  },
  {
    name: 'an output folder holding a link to a file outside the repository: names the link',
    record: baseRecord({
      command: `mkdir -p out/model && printf 'w\\n' > out/model/w.bin && ln -s /etc/hostname out/model/leak && printf '{"acc": 0.9}' > out/m.json`,
      artifacts: [{ path: 'out/model', sha256: 'a'.repeat(64) }],
    }),
    expect: { status: 2, culprit: [/out\/model\/leak/] },
  },
  {
    name: 'a command that exits 127 (not found): names the command and the status',
    record: baseRecord({ command: 'hostile-no-such-program --train' }),
    expect: { status: 2, culprit: [/command/, /127/] },
  },
  {
    name: 'a command killed by a signal: names the signal',
    record: baseRecord({ command: `${OUTPUTS} && kill -9 $$` }),
    expect: { status: 2, culprit: [/command/, /SIGKILL/] },
  },
  {
    name: 'odd file names: spaces and unicode in data, config, artifact and metric names simply work',
    files: {
      '.gitignore': 'out/\n',
      'data/naïve set.csv': 'a,b\n1,2\n',
      'configs/ünï côdé.yaml': 'lr: 0.1\n',
    },
    record: baseRecord({
      command: `mkdir -p out && cp "data/naïve set.csv" "out/my model ü 🚀.pkl" && printf '{"précision": 0.5, "acc": 0.9}' > out/m.json`,
      data: [{ path: 'data/naïve set.csv', sha256: sha256('a,b\n1,2\n') }],
      config: [{ path: 'configs/ünï côdé.yaml', sha256: sha256('lr: 0.1\n') }],
      artifacts: [{ path: 'out/my model ü 🚀.pkl', sha256: sha256('a,b\n1,2\n') }],
      metrics: { path: 'out/m.json', values: { précision: 0.5, acc: 0.9 } },
    }),
    args: (ctx) => verifyArgs(ctx, 'run.yaml', ['--markdown', ctx.markdown]),
    expect: {
      status: 0,
      culprit: REPRODUCED,
      verdict: 'reproduced',
      check: async (_result, ctx, fail) => {
        const markdown = await readFile(ctx.markdown, 'utf8').catch(() => '');
        if (!markdown.includes('my model ü 🚀.pkl')) fail('the markdown report does not show the artifact name as it is');
      },
    },
  },
  {
    name: 'markdown and HTML injection in metric keys: the report renders them inert',
    record: baseRecord({
      command: `${ARTIFACT} && ${python(`import json\njson.dump(dict.fromkeys(${JSON.stringify(INJECTED_KEYS)}, 1), open("out/m.json", "w"))`)}`,
      metrics: { path: 'out/m.json', values: Object.fromEntries(INJECTED_KEYS.map((key) => [key, 1])) },
    }),
    args: (ctx) => verifyArgs(ctx, 'run.yaml', ['--markdown', ctx.markdown]),
    expect: {
      status: 0,
      culprit: REPRODUCED,
      check: async (_result, ctx, fail) => {
        const markdown = await readFile(ctx.markdown, 'utf8').catch(() => '');
        if (!markdown) fail('no markdown report');
        for (const raw of ['<img', '@everyone', '](https://', '<!-- repro-gate:sticky', '| x | y |']) {
          if (markdown.includes(raw)) fail(`the markdown report contains ${JSON.stringify(raw)} as it was written`);
        }
      },
    },
  },
  {
    name: 'terminal escape sequences in a drifting metric key never reach the terminal',
    record: `${baseText({ command: `${ARTIFACT} && ${python('import json\njson.dump({"\\u001b[31mred\\u001b]0;pwned\\u0007": 2, "acc": 0.9}, open("out/m.json", "w"))')}`, metrics: undefined })}metrics:\n  path: out/m.json\n  values:\n    acc: 0.9\n    "\\e[31mred\\e]0;pwned\\a": 1\n`,
    expect: {
      status: 1,
      culprit: [/red/],
      verdict: 'drift',
      check: (result, _ctx, fail) => {
        // eslint-disable-next-line no-control-regex
        if (/[\u001b\u0007]/.test(result.stdout)) fail('an escape sequence from a metric key reached the terminal summary');
      },
    },
  },
  {
    name: 'a 3,000-character command simply works',
    record: baseRecord({ command: `${Array.from({ length: 200 }, (_, i) => `V${i}=${i}`).join('; ')}; : ${'x'.repeat(1_500)}; ${OUTPUTS}` }),
    expect: {
      status: 0,
      culprit: REPRODUCED,
      verdict: 'reproduced',
    },
  },
  {
    name: '10,000 artifacts simply work, in bounded memory',
    record: baseRecord({
      command: python(`import os\nos.makedirs("out", exist_ok=True)\nfor i in range(${ARTIFACT_COUNT}):\n    open("out/a%05d.txt" % i, "w").write(str(i))`),
      artifacts: Array.from({ length: ARTIFACT_COUNT }, (_, i) => ({ path: artifactName(i), sha256: sha256(String(i)) })),
      metrics: undefined,
    }),
    limitSeconds: 120,
    expect: { status: 0, culprit: REPRODUCED, verdict: 'reproduced', maxRssMB: 500, check: loadsQuickly },
  },
  {
    name: '100 MB of output from the command: works, in bounded memory, with a bounded log tail',
    record: baseRecord({ command: `${python('import sys\nline = b"x" * 99 + b"\\n"\nfor _ in range(1000000):\n    sys.stdout.buffer.write(line)')} && ${OUTPUTS}` }),
    limitSeconds: 120,
    expect: {
      status: 0,
      culprit: REPRODUCED,
      verdict: 'reproduced',
      maxRssMB: 500,
      check: (result, _ctx, fail) => {
        if ((result.report?.records[0]?.run?.logTail.length ?? 0) > 16_000) fail('the report carries more than 16,000 characters of log');
      },
    },
  },
  {
    name: '10,001 metrics simply work, and the markdown report truncates them with a count',
    record: baseRecord({ command: `${ARTIFACT} && ${MANY_METRICS(10_001)}`, metrics: { path: 'out/m.json', values: manyValues(10_001) } }),
    args: (ctx) => verifyArgs(ctx, 'run.yaml', ['--markdown', ctx.markdown]),
    limitSeconds: 60,
    expect: {
      status: 0,
      culprit: REPRODUCED,
      maxRssMB: 500,
      check: async (_result, ctx, fail) => {
        const markdown = await readFile(ctx.markdown, 'utf8').catch(() => '');
        if (!/\b(and )?[\d,]+ more\b/.test(markdown)) fail('the markdown report does not say how many metrics it left out');
        if (markdown.length > 65_536) fail(`the markdown report is ${markdown.length} characters, over a PR comment's limit`);
      },
    },
  },
  {
    name: 'a record with 40,000 metric keys loads in under 3 s',
    record: baseRecord({ command: `${ARTIFACT} && ${MANY_METRICS(40_000)}`, metrics: { path: 'out/m.json', values: manyValues(40_000) } }),
    limitSeconds: 60,
    expect: {
      status: 0,
      culprit: REPRODUCED,
      maxRssMB: 500,
      check: loadsQuickly,
    },
  },
  {
    name: 'a 49 MiB run.yaml (a long comment): refused naming its size, in bounded memory',
    record: () => `${baseText()}# ${'x'.repeat(49 * 2 ** 20)}\n`,
    limitSeconds: 60,
    expect: { status: 2, culprit: [/run\.yaml/, /51[,. ]?38\d[,. ]?\d{3}|49(\.\d)? ?MiB|51(\.\d)? ?MB/], maxRssMB: 500, maxSeconds: 15 },
  },
  {
    name: 'a 49 MiB run.yaml (a huge metrics.values map): refused naming its size, in bounded memory',
    record: () => {
      const head = `${baseText({ metrics: undefined })}metrics:\n  path: out/m.json\n  values:\n    acc: 0.9\n`;
      const line = (i: number) => `    k${String(i).padStart(8, '0')}_${'p'.repeat(80)}: ${i}\n`;
      const lines: string[] = [];
      let size = Buffer.byteLength(head);
      for (let i = 0; size < 49 * 2 ** 20; i += 1) {
        lines.push(line(i));
        size += line(i).length;
      }
      return head + lines.join('');
    },
    limitSeconds: 60,
    expect: { status: 2, culprit: [/run\.yaml/, /49(\.\d)? ?MiB|51(\.\d)? ?MB|51[,. ]?\d{3}[,. ]?\d{3}/], maxRssMB: 500, maxSeconds: 15 },
  },
];
