import { execFile, execFileSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPickle, type PythonRunner } from '../../src/compare/formats/pickle/pickle.js';
import type { TensorFile } from '../../src/compare/formats/tensor-file.js';
import { createRecordingVenv } from '../support/fixture-repo.js';
import { bytesOf, rejection } from '../support/tensor-readers.js';
import { tensorToolsPython } from '../support/tensor-venv.js';

// The helper runs in real venvs with real scikit-learn; expected values are what Python itself prints for the same
// attributes of the same fitted objects.

const VENV_TIMEOUT = 600_000;

/** Fits the models on iris-like generated data (fixed seeds), pickles and joblib-dumps them, and prints what they hold. */
const FIT = String.raw`
import json, pickle, sys
import joblib, numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

out = sys.argv[1]
rng = np.random.RandomState(0)
centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
y = np.repeat([0, 1, 2], 40)
X = centers[y] + rng.normal(scale=0.35, size=(120, 4))
models = {
    "sgd": SGDClassifier(random_state=0, max_iter=50, tol=None).fit(X, y),
    "pipeline": Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, y),
    "forest": RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y),
    "labels": LogisticRegression(max_iter=500).fit(X, np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]),
}
for name, model in models.items():
    with open(f"{out}/{name}.pkl", "wb") as f:
        pickle.dump(model, f)
    joblib.dump(model, f"{out}/{name}.joblib")
    joblib.dump(model, f"{out}/{name}-compressed.joblib", compress=3)

def entry(value):
    array = np.asarray(value)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "hex": np.ascontiguousarray(array).tobytes().hex()}

def fitted(estimator, prefix=""):
    return {prefix + k: entry(v) for k, v in vars(estimator).items()
            if k.endswith("_") and not k.startswith("_") and isinstance(v, (np.ndarray, np.generic, int, float)) and np.asarray(v).dtype != object}

def parameters(estimator, prefix=""):
    return {prefix + k: repr(v) for k, v in estimator.get_params(deep=False).items() if not hasattr(v, "get_params")}

forest = models["forest"]
print(json.dumps({
    "tensors": {
        "sgd": fitted(models["sgd"]),
        "pipeline": {**fitted(models["pipeline"].named_steps["scaler"], "scaler."), **fitted(models["pipeline"].named_steps["clf"], "clf.")},
        "forest": {
            "classes_": entry(forest.classes_),
            **{f"estimators_.{i}.tree_.{a}": entry(getattr(tree.tree_, a)) for i, tree in enumerate(forest.estimators_)
               for a in ("threshold", "value", "children_left", "children_right", "feature", "n_node_samples")},
        },
        "labels": {"coef_": entry(models["labels"].coef_)},
    },
    "classes": "\n".join(models["labels"].classes_),
    "parameters": {
        "sgd": parameters(models["sgd"]),
        "pipeline": {**parameters(models["pipeline"].named_steps["scaler"], "scaler."), **parameters(models["pipeline"].named_steps["clf"], "clf.")},
    },
}))
`;

type Expected = Record<string, { dtype: string; shape: number[]; hex: string }>;
interface Fitted {
  tensors: Record<'sgd' | 'pipeline' | 'forest' | 'labels', Expected>;
  classes: string;
  parameters: Record<'sgd' | 'pipeline', Record<string, string>>;
}

function runnerFor(python: string, cwd?: string): PythonRunner {
  return (args) =>
    new Promise((resolve) => {
      execFile(python, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ exitCode, stderr: String(stderr) });
      });
    });
}

async function contentOf(file: TensorFile): Promise<Map<string, { dtype: string; shape: number[]; hex: string }>> {
  const content = new Map<string, { dtype: string; shape: number[]; hex: string }>();
  for (const tensor of file.tensors) {
    content.set(tensor.name, { dtype: tensor.dtype, shape: tensor.shape, hex: (await bytesOf(tensor)).bytes.toString('hex') });
  }
  return content;
}

async function read(file: string, run: PythonRunner): Promise<{ content: Awaited<ReturnType<typeof contentOf>>; parameters: Record<string, string> }> {
  const opened = await openPickle(file, 'out/model.pkl', run);
  try {
    return { content: await contentOf(opened), parameters: opened.parameters ?? {} };
  } finally {
    await opened.close();
  }
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

let dir: string;
let python161: string;
let sklearn161: PythonRunner;
let fitted: Fitted;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-formats-pickle-'));
  python161 = (await createRecordingVenv('scikit-learn==1.6.1\nnumpy==2.2.6\n')).python;
  sklearn161 = runnerFor(python161);
  await mkdir(path.join(dir, '1.6.1'));
  fitted = JSON.parse(execFileSync(python161, ['-c', FIT, path.join(dir, '1.6.1')], { encoding: 'utf8' }));
}, VENV_TIMEOUT);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scikit-learn models', () => {
  const model = (name: string) => path.join(dir, '1.6.1', name);

  // Each model in one of the three containers, and each container at least once: every read starts a Python that
  // imports scikit-learn (about 3 s), and the tests below read the other combinations again.
  const cases = [['sgd', '.pkl'], ['pipeline', '-compressed.joblib'], ['forest', '.joblib'], ['labels', '-compressed.joblib']] as const;
  for (const [name, suffix] of cases) {
    it(`reads the fitted state of ${name}${suffix} byte for byte as Python holds it`, async () => {
      const { content } = await read(model(`${name}${suffix}`), sklearn161);
      for (const [tensorName, expected] of Object.entries(fitted.tensors[name])) {
        expect({ name: tensorName, ...content.get(tensorName) }).toEqual({ name: tensorName, ...expected });
      }
    });
  }

  it('names fitted arrays by attribute, pipeline steps by step name, trees by estimator index', async () => {
    const sgd = (await read(model('sgd.pkl'), sklearn161)).content;
    expect([...sgd.keys()]).toEqual(expect.arrayContaining(['coef_', 'intercept_', 'classes_', 't_', 'n_iter_']));
    const pipeline = (await read(model('pipeline.pkl'), sklearn161)).content;
    expect([...pipeline.keys()]).toEqual(expect.arrayContaining(['scaler.mean_', 'scaler.scale_', 'clf.coef_', 'clf.intercept_']));
    expect([...pipeline.keys()].filter((name) => name.startsWith('steps'))).toEqual([]);
    const forest = (await read(model('forest.pkl'), sklearn161)).content;
    expect([...forest.keys()]).toEqual(expect.arrayContaining(['estimators_.2.tree_.threshold', 'estimators_.0.tree_.missing_go_to_left', 'n_classes_']));
  });

  it('lists constructor parameters as repr text, prefixed by the step', async () => {
    expect((await read(model('sgd.pkl'), sklearn161)).parameters).toMatchObject(fitted.parameters.sgd);
    expect((await read(model('pipeline.joblib'), sklearn161)).parameters).toMatchObject(fitted.parameters.pipeline);
  });

  it('reads string class labels as text compared by bytes', async () => {
    const classes = (await read(model('labels.pkl'), sklearn161)).content.get('classes_');
    expect(classes).toEqual({ dtype: 'raw:str', shape: [Buffer.byteLength(fitted.classes)], hex: Buffer.from(fitted.classes).toString('hex') });
  });

  it('removes its output folder on close', async () => {
    let outDir = '';
    const opened = await openPickle(model('sgd.pkl'), 'out/model.pkl', (args) => {
      outDir = args.at(-1)!;
      return sklearn161(args);
    });
    expect(await exists(path.join(outDir, 'tensors.bin'))).toBe(true);
    await opened.close();
    await opened.close();
    expect(await exists(outDir)).toBe(false);
  });

  it('resolves the project\'s own classes from the working directory, which cannot shadow the helper\'s modules', async () => {
    const project = path.join(dir, 'project');
    await mkdir(project);
    await writeFile(
      path.join(project, 'features.py'),
      'import numpy as np\nclass Offset:\n    def get_params(self, deep=True):\n        return {"shift": 2}\n    def fit(self, X):\n        self.offset_ = np.mean(X, axis=0) + 2\n        return self\n',
    );
    await writeFile(path.join(project, 'json.py'), 'raise ImportError("the project\'s json.py was imported")\n');
    const printed = execFileSync(
      python161,
      ['-I', '-c', 'import sys, os, pickle; sys.path.insert(0, os.getcwd()); import features, numpy as np; m = features.Offset().fit(np.arange(6.0).reshape(3, 2)); pickle.dump(m, open("offset.pkl", "wb")); print(m.offset_.tobytes().hex())'],
      { cwd: project, encoding: 'utf8' },
    ).trim();
    const { content, parameters } = await read(path.join(project, 'offset.pkl'), runnerFor(python161, project));
    expect(content.get('offset_')).toEqual({ dtype: 'float64', shape: [2], hex: printed });
    expect(parameters).toEqual({ shift: '2' });
  });

  it('refuses a file that is not a pickle, naming it', async () => {
    const file = path.join(dir, 'not-a-pickle.pkl');
    await writeFile(file, 'hello, this is text\n');
    const error = await rejection(openPickle(file, 'out/model.pkl', sklearn161));
    expect(error.message).toMatch(/^out\/model\.pkl: the model could not be read: could not unpickle: UnpicklingError: /);
  });

  it('names the module a pickle needs when the environment lacks it', async () => {
    const error = await rejection(openPickle(model('sgd.pkl'), 'out/model.pkl', runnerFor(await tensorToolsPython())));
    expect(error.message).toBe("out/model.pkl: the model could not be read: could not unpickle: ModuleNotFoundError: No module named 'sklearn'");
    expect(error.hint).toContain('"sklearn"');
  });
});


describe('what the helper hands back is checked like any file', () => {
  // The model's code runs in the helper's process, so its index and bytes are untrusted: a fake helper writes them.
  function fakeHelper(index: unknown, tensorBytes: number, exit: { exitCode: number | null; stderr: string } = { exitCode: 0, stderr: '' }): PythonRunner {
    return async (args) => {
      const outDir = args.at(-1)!;
      await writeFile(path.join(outDir, 'index.json'), typeof index === 'string' ? index : JSON.stringify(index));
      await writeFile(path.join(outDir, 'tensors.bin'), Buffer.alloc(tensorBytes));
      return exit;
    };
  }
  const entry = (fields: Record<string, unknown> = {}) => ({ name: 'coef_', dtype: 'float64', shape: [2, 3], itemsize: 8, offset: 0, length: 48, ...fields });
  const index = (...tensors: unknown[]) => ({ format: 'pickle', tensors, parameters: {} });

  const cases: Array<[string, PythonRunner, RegExp]> = [
    ['a range past the bytes written', fakeHelper(index(entry({ offset: 8 })), 48), /"coef_" ends at byte 56, past the 48 bytes the helper wrote/],
    ['a length that does not match the shape', fakeHelper(index(entry({ length: 40 })), 48), /"coef_" has shape \[2, 3\] of 8-byte items but a length of 40 bytes/],
    ['a numeric dtype with the wrong item size', fakeHelper(index(entry({ itemsize: 4, length: 24 })), 48), /gives float64 an item size of 4/],
    ['a name given twice', fakeHelper(index(entry(), entry()), 48), /"coef_" appears twice/],
    ['an unknown dtype', fakeHelper(index(entry({ dtype: 'float80' })), 48), /the helper's index is invalid at tensors\.0\.dtype/],
    ['a shape too large to exist', fakeHelper(index(entry({ shape: [2 ** 40, 2 ** 40] })), 48), /but a length of 48 bytes/],
    ['an index that is not JSON', fakeHelper('{"format": "pickle", "tens', 0), /the helper's index is not valid JSON/],
    ['a failure line after warnings', fakeHelper(index(), 0, { exitCode: 3, stderr: 'UserWarning: noise\n  warnings.warn(\ncould not unpickle: EOFError\n' }), /could not be read: could not unpickle: EOFError$/],
    ['a helper killed by a signal', fakeHelper(index(), 0, { exitCode: null, stderr: '' }), /could not be read: the reading helper was killed by a signal$/],
    ['a crash with another exit code', fakeHelper(index(), 0, { exitCode: 1, stderr: 'Segmentation fault\n' }), /the reading helper exited with code 1: Segmentation fault$/],
  ];
  for (const [what, run, message] of cases) {
    it(`refuses ${what}, naming the model`, async () => {
      const error = await rejection(openPickle('/nonexistent/model.pkl', 'out/model.pkl', run));
      expect(error.message).toMatch(/^out\/model\.pkl: /);
      expect(error.message).toMatch(message);
    });
  }

  it('refuses a missing index', async () => {
    const error = await rejection(openPickle('/nonexistent/model.pkl', 'out/model.pkl', async () => ({ exitCode: 0, stderr: '' })));
    expect(error.message).toMatch(/^out\/model\.pkl \(the helper's index\): cannot be opened \(ENOENT\)/);
  });
});

describe('the same model fitted under scikit-learn 1.6.1 and 1.9.1', () => {
  let python191: string;
  let sklearn191: PythonRunner;

  beforeAll(async () => {
    python191 = (await createRecordingVenv('scikit-learn==1.9.1\nnumpy==2.2.6\n')).python;
    sklearn191 = runnerFor(python191);
    await mkdir(path.join(dir, '1.9.1'));
    execFileSync(python191, ['-c', FIT, path.join(dir, '1.9.1')]);
  }, VENV_TIMEOUT);

  async function bothVersions(file: string) {
    const [older, newer] = [await read(path.join(dir, '1.6.1', file), sklearn161), await read(path.join(dir, '1.9.1', file), sklearn191)];
    const differing = [...older.content.keys()].filter((name) => JSON.stringify(older.content.get(name)) !== JSON.stringify(newer.content.get(name)));
    const parameterNames = new Set([...Object.keys(older.parameters), ...Object.keys(newer.parameters)]);
    const changedParameters = Object.fromEntries(
      [...parameterNames].filter((name) => older.parameters[name] !== newer.parameters[name]).map((name) => [name, [older.parameters[name], newer.parameters[name]]]),
    );
    return { older, newer, differing, changedParameters };
  }

  it('pickles to different bytes with bitwise-identical fitted arrays (SGDClassifier, random forest)', async () => {
    for (const name of ['sgd', 'forest']) {
      expect((await readFile(path.join(dir, '1.6.1', `${name}.pkl`))).equals(await readFile(path.join(dir, '1.9.1', `${name}.pkl`)))).toBe(false);
      const { older, newer, differing } = await bothVersions(`${name}.pkl`);
      expect([...newer.content.keys()].sort()).toEqual([...older.content.keys()].sort());
      expect(older.content.size).toBeGreaterThan(5);
      expect(differing).toEqual([]);
    }
  });

  it('lists the parameters that appeared, disappeared or changed default, without touching the fitted state', async () => {
    // Measured: 1.9 no longer stores SGDClassifier's unused C, and its eta0 default moved from 0.0 to 0.01 (unused
    // with learning_rate="optimal": the fitted arrays above are identical).
    const { changedParameters } = await bothVersions('sgd.joblib');
    expect(changedParameters).toEqual({ C: ['1.0', undefined], eta0: ['0.0', '0.01'] });
  });

  it('shows the one fitted value whose dtype changed in the pipeline: StandardScaler.n_samples_seen_', async () => {
    // Measured: 1.9's StandardScaler stores n_samples_seen_ as float64 (120.0) where 1.6.1 stored int64 (120); every
    // array of both steps is otherwise bitwise identical. A comparison reports it as a dtype change, not as noise.
    const { older, newer, differing } = await bothVersions('pipeline.pkl');
    expect(differing).toEqual(['scaler.n_samples_seen_']);
    expect(older.content.get('scaler.n_samples_seen_')?.dtype).toBe('int64');
    expect(newer.content.get('scaler.n_samples_seen_')?.dtype).toBe('float64');
  });
});
