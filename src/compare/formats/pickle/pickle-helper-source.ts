// The Python side of pickle comparison: run by the rebuilt venv's interpreter, inside the sandbox, as
// `python -I -c PICKLE_HELPER_SOURCE <model file> <out dir>`. It unpickles the model (joblib.load when joblib is
// installed: it reads plain pickles too, and joblib's own dumps, compressed or not, which pickle.load cannot), walks
// it, and writes out_dir/index.json and out_dir/tensors.bin (each tensor's little-endian C-order bytes, one after
// another, written one array at a time). On failure it prints one line to stderr and exits 3.
//
// Passed with -c rather than written to a file: nothing exists on disk for the model's code to replace before the
// helper runs, and there is nothing to clean up. -I keeps the user's site-packages, PYTHON* variables and the
// working directory off sys.path while the helper imports its own modules; the working directory and PYTHONPATH are
// then appended, so the project's classes still resolve for the unpickler but cannot shadow json, pickle or numpy.
//
// What it emits, by dotted name:
// - numpy arrays and scalars, Python bool/int/float (0-d), str and bytes (raw:str / raw:bytes, one byte per element);
//   a list or tuple of plain numbers is one 1-d array;
// - for an estimator (anything with get_params), the fitted state: attributes ending in "_" and not starting with
//   "_", walked recursively (estimators, dicts, lists, tuples, sklearn Tree objects, object arrays of estimators),
//   named by attribute, key, index, or a (name, estimator, ...) step's name; a Pipeline's steps are named by step
//   name alone ("clf.coef_");
// - its constructor parameters (get_params(deep=False), plus public attributes outside get_params, such as an unused
//   parameter a version stores but no longer declares) go to "parameters" as repr text; estimators among them are
//   walked for their own fitted state and parameters.
// An object the walk does not know is listed as a parameter by its repr (memory addresses removed), never guessed at.
// Attributes starting with "_" are not read: HistGradientBoosting*, for one, keeps its trees there (_predictors).

export const PICKLE_HELPER_EXIT_FAILURE = 3;

export const PICKLE_HELPER_SOURCE = String.raw`# Written by repro-gate: reads a pickled model's numeric content; see src/compare/formats/pickle/.
import sys


class Failure(Exception):
    pass


MAX_ENTRIES = 200000
MAX_PARAMETER_CHARS = 1000
NUMERIC = {
    "f2": "float16", "f4": "float32", "f8": "float64",
    "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
    "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
    "b1": "bool",
}
# Fitted state that estimators keep in private attributes: XGBoost's and LightGBM's scikit-learn wrappers hold the
# trained booster in _Booster, scikit-learn's HistGradientBoosting its trees in _predictors.
PRIVATE_FITTED_STATE = ("_Booster", "_predictors", "_baseline_prediction")
TREE_ATTRIBUTES = (
    "node_count", "max_depth", "n_features", "n_outputs", "n_classes", "children_left", "children_right", "feature",
    "threshold", "value", "impurity", "n_node_samples", "weighted_n_node_samples", "missing_go_to_left",
)


def describe_exception(error):
    text = str(error)
    return type(error).__name__ + (": " + text if text else "")


def join(path, part):
    return str(part) if path == "" else path + "." + str(part)


class Walker:
    def __init__(self, np, tensors_file):
        self.np = np
        self.out = tensors_file
        self.offset = 0
        self.tensors = []
        self.parameters = {}
        self.names = set()
        # id -> object: holding the object keeps its id from being reused by a later temporary.
        self.seen = {}

    def claim(self, name):
        name = name or "value"
        if name in self.names:
            raise Failure("two values are both named " + repr(name))
        if len(self.names) >= MAX_ENTRIES:
            raise Failure("the model has more than %d arrays and parameters" % MAX_ENTRIES)
        self.names.add(name)
        return name

    def parameter(self, path, text):
        import re
        text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
        if len(text) > MAX_PARAMETER_CHARS:
            text = text[:MAX_PARAMETER_CHARS] + "..."
        self.parameters[self.claim(path)] = text

    def write(self, path, dtype, shape, itemsize, data):
        name = self.claim(path)
        length = len(data)
        self.out.write(data)
        self.tensors.append({"name": name, "dtype": dtype, "shape": shape, "itemsize": itemsize, "offset": self.offset, "length": length})
        self.offset += length

    def text(self, path, dtype, value):
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
        self.write(path, dtype, [len(data)], 1, memoryview(data))

    def array(self, path, array):
        np = self.np
        # Subclasses (masked arrays, matrices) as their plain data: their views do not flatten like an ndarray's.
        array = np.asarray(array)
        if array.dtype.kind == "O":
            return self.object_array(path, array)
        if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and sys.byteorder == "big"):
            array = array.astype(array.dtype.newbyteorder("<"))
        shape = [int(n) for n in array.shape]
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        key = array.dtype.kind + str(array.dtype.itemsize)
        dtype = "bfloat16" if array.dtype.name == "bfloat16" else NUMERIC.get(key) or "raw:" + array.dtype.str
        data = array.reshape(-1).view(np.uint8).data if array.size else memoryview(b"")
        self.write(path, dtype, shape, array.dtype.itemsize, data)

    def object_array(self, path, array):
        items = array.reshape(-1).tolist()
        if all(isinstance(item, str) for item in items):
            return self.text(path, "raw:str", "\n".join(items))
        if any(is_estimator(item) for item in items):
            for index, item in zip(self.np.ndindex(*array.shape), items):
                self.walk(item, join(path, ".".join(str(i) for i in index)))
            return
        kinds = sorted({type(item).__name__ for item in items})
        raise Failure("%s is an object array of %s, which has no numeric content to compare" % (path or "the model", ", ".join(kinds[:5])))

    def walk(self, value, path):
        np = self.np
        if value is None:
            return
        if isinstance(value, bool):
            return self.array(path, np.asarray(value, dtype=np.bool_))
        if isinstance(value, int):
            if -(2 ** 63) <= value < 2 ** 63:
                return self.array(path, np.asarray(value, dtype=np.int64))
            return self.parameter(path, repr(value))
        if isinstance(value, float):
            return self.array(path, np.asarray(value, dtype=np.float64))
        if isinstance(value, str):
            return self.text(path, "raw:str", value)
        if isinstance(value, (bytes, bytearray)):
            return self.text(path, "raw:bytes", value)
        if isinstance(value, np.generic):
            return self.array(path, np.asarray(value))
        if isinstance(value, np.ndarray):
            return self.array(path, value)
        if id(value) in self.seen:
            return
        self.seen[id(value)] = value
        if is_estimator(value):
            return self.estimator(value, path)
        if is_tree(value):
            for attribute in TREE_ATTRIBUTES:
                if hasattr(value, attribute):
                    self.walk(getattr(value, attribute), join(path, attribute))
            return
        if isinstance(value, dict):
            for key, item in value.items():
                self.walk(item, join(path, key))
            return
        if isinstance(value, (list, tuple)):
            return self.sequence(value, path)
        self.opaque(value, path)

    def opaque(self, value, path):
        # State this walker cannot read as numbers (a booster, a torch module, a custom class) is compared by its
        # pickled bytes: never shown as a parameter, which would not gate, and so never a silent pass.
        import pickle
        try:
            data = pickle.dumps(value, protocol=4)
        except Exception as error:
            raise Failure("%s (%s.%s) cannot be read as numbers or pickled again: %s" % (
                path or "the model", type(value).__module__, type(value).__qualname__, describe_exception(error)))
        self.text(path, "raw:pickle", data)

    def sequence(self, items, path):
        np = self.np
        if items and all(isinstance(item, (bool, int, float, np.number, np.bool_)) for item in items):
            array = np.asarray(items)
            if array.dtype.kind in "biuf":
                return self.array(path, array)
        for item, item_path in named_items(items, path):
            self.walk(item, item_path)

    def estimator(self, estimator, path):
        state = getattr(estimator, "__dict__", {})
        for attribute in sorted(state):
            if (attribute.endswith("_") and not attribute.startswith("_")) or attribute in PRIVATE_FITTED_STATE:
                self.walk(state[attribute], join(path, attribute))
        try:
            parameters = dict(estimator.get_params(deep=False))
        except Exception:
            parameters = {}
        for attribute in state:
            if not attribute.startswith("_") and not attribute.endswith("_") and attribute not in parameters:
                parameters[attribute] = state[attribute]
        pipeline = hasattr(estimator, "named_steps")
        for name in sorted(parameters):
            self.parameter_value(parameters[name], path if pipeline and name == "steps" else join(path, name))

    def parameter_value(self, value, path):
        if is_estimator(value):
            if id(value) not in self.seen:
                self.seen[id(value)] = value
                self.estimator(value, path)
            return
        if isinstance(value, (list, tuple)) and any(is_estimator(item) or is_named_step(item) for item in value):
            for item, item_path in named_items(value, path):
                self.parameter_value(item, item_path)
            return
        self.parameter(path, describe_object(value))


def describe_object(value):
    try:
        return repr(value)
    except Exception:
        return "<%s.%s object>" % (type(value).__module__, type(value).__qualname__)


def is_estimator(value):
    return not isinstance(value, type) and callable(getattr(value, "get_params", None))


def is_named_step(item):
    return isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], str) and (is_estimator(item[1]) or isinstance(item[1], str))


def named_items(items, path):
    """Each item of a list or tuple with its path: by index, or for a (name, estimator, ...) step by its name."""
    for index, item in enumerate(items):
        if is_named_step(item):
            yield item[1], join(path, item[0])
            for position, extra in enumerate(item[2:], 2):
                yield extra, join(join(path, item[0]), position)
        else:
            yield item, join(path, index)


def is_tree(value):
    return type(value).__name__ == "Tree" and type(value).__module__.startswith("sklearn.tree")


def load(model_path, joblib):
    import pickle
    import warnings

    with warnings.catch_warnings():
        # A version warning (InconsistentVersionWarning) is expected here: the point is to compare across versions.
        warnings.simplefilter("ignore")
        try:
            if joblib is not None:
                return joblib.load(model_path)
            if model_path.endswith(".joblib"):
                raise Failure("could not unpickle: the file is a joblib dump, and joblib is not installed in the environment")
            with open(model_path, "rb") as model_file:
                return pickle.load(model_file)
        except Failure:
            raise
        except EOFError:
            raise Failure("could not unpickle: the file ends before the pickle does (empty or truncated)")
        except Exception as error:
            raise Failure("could not unpickle: " + describe_exception(error))


def main():
    import json
    import os

    model_path, out_dir = sys.argv[1], sys.argv[2]
    try:
        import numpy
    except Exception as error:
        raise Failure("numpy cannot be imported in the environment (%s); the model's arrays are written with it" % describe_exception(error))
    try:
        import joblib
    except Exception:
        joblib = None
    sys.path.extend(entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry)
    sys.path.append(os.getcwd())
    model = load(model_path, joblib)
    with open(os.path.join(out_dir, "tensors.bin"), "wb") as tensors_file:
        walker = Walker(numpy, tensors_file)
        try:
            walker.walk(model, "")
        except RecursionError:
            raise Failure("the model nests objects too deeply to walk")
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as index_file:
        json.dump({"format": "pickle", "tensors": walker.tensors, "parameters": walker.parameters}, index_file)


try:
    main()
except Failure as failure:
    sys.stderr.write(str(failure).replace("\n", " ")[:2000] + "\n")
    sys.exit(3)
except Exception as error:
    sys.stderr.write(("could not read the model: " + describe_exception(error)).replace("\n", " ")[:2000] + "\n")
    sys.exit(3)
`;
