// The rerun probe, installed as `sitecustomize` on the command's PYTHONPATH. Every Python process of the command
// (the training, and any interpreter it starts) loads it at start-up and appends JSON lines to the trace file:
// where it ran, which files it could not open, and, at exit, which distributions it imported.
// It prints nothing and imports nothing the interpreter has not loaded already (a module imported here would be
// cached before the program's own path is set up, and a project's json.py could no longer shadow the standard one).
// It chains to the project's own sitecustomize.
// Each line is written as it happens (os._exit skips exit handlers, so only the `exit` line can be lost).

export const PROBE_MODULE_NAME = 'sitecustomize.py';

export const PROBE_SOURCE = String.raw`# Written by repro-gate for one run; see README "The rerun probe".
def _repro_gate_probe():
    import os
    import sys

    trace = os.environ.get("REPRO_GATE_TRACE")
    sandbox = os.environ.get("REPRO_GATE_SANDBOX")
    if not trace or not sandbox:
        return
    sandbox = os.path.join(os.path.realpath(sandbox), "")

    def in_sandbox(target):
        return os.path.realpath(target).startswith(sandbox)
    def encode(value):
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return '"' + "".join(c if c >= " " and c not in '"\\' and not "\ud800" <= c <= "\udfff" else "\\u%04x" % ord(c) for c in value) + '"'
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(encode(item) for item in value) + "]"
        return "{" + ",".join(encode(key) + ":" + encode(item) for key, item in value.items()) + "}"

    pid = os.getpid()
    writing = [False]
    budget = {"missing": 50, "exiting": False}

    def write(event, **fields):
        if writing[0]:
            return
        writing[0] = True
        try:
            line = encode(dict(event=event, pid=pid, **fields)) + "\n"
            fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except Exception:
            pass
        finally:
            writing[0] = False

    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    write(
        "start",
        ppid=os.getppid(),
        executable=sys.executable,
        prefix=sys.prefix,
        base_prefix=sys.base_prefix,
        version="%d.%d.%d" % sys.version_info[:3],
        script=os.path.abspath(script) if script else None,
        script_in_sandbox=bool(script) and in_sandbox(script),
        cwd=os.getcwd(),
    )

    read_only = os.O_WRONLY | os.O_RDWR

    def audit(event, args):
        if event != "open" or budget["missing"] <= 0 or writing[0] or budget["exiting"]:
            return
        target, mode, flags = args
        if not isinstance(target, (str, bytes)) or os.fsdecode(target).endswith(".pyc"):
            return
        reads = (mode is not None and not any(c in mode for c in "wax+")) or (mode is None and not (flags or 0) & read_only)
        if not reads:
            return
        try:
            # Only what the command could not open inside its sandbox: a data file left out of the copy.
            if os.path.exists(target) or not in_sandbox(target):
                return
            budget["missing"] -= 1
            write("missing", path=os.path.abspath(os.fsdecode(target)))
        except Exception:
            pass

    sys.addaudithook(audit)

    def at_exit():
        budget["exiting"] = True
        try:
            stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
            top = {name.partition(".")[0] for name in list(sys.modules)} - stdlib
            top = {name for name in top if not name.startswith("_")}
            distributions = set()
            if top:
                import importlib.metadata

                mapping = importlib.metadata.packages_distributions()
                for name in top:
                    distributions.update(mapping.get(name, ()))
            files = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
            local = sorted({os.path.abspath(f) for f in files if isinstance(f, str) and in_sandbox(f)})
            write("exit", distributions=sorted(distributions), sandbox_modules=local[:20])
        except Exception:
            pass

    import atexit  # built in: nothing on the path can shadow it

    atexit.register(at_exit)


def _repro_gate_chain():
    # The project's own sitecustomize, if any, still runs: found on the path without this folder.
    import os
    import sys

    # The import system's own (always loaded) classes, so that nothing new is imported here either.
    finder = sys.modules["_frozen_importlib_external"].PathFinder
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    spec = finder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = sys.modules["_frozen_importlib"].module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    _repro_gate_probe()
finally:
    del _repro_gate_probe
    _repro_gate_chain()
    del _repro_gate_chain
`;
