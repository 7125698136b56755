"""The package's layers, read from the source (every import, inside functions too).

docs/architecture.md draws the same map. Each check here fails on a real breach:
`test_rules_catch_a_breach` feeds the checker a made-up upward import and a loop.
"""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sphereface_tf"

CORE = {"sphereface_tf._version", "sphereface_tf._compat", "sphereface_tf.margin", "sphereface_tf.precise", "sphereface_tf.angles", "sphereface_tf.layers", "sphereface_tf.head", "sphereface_tf.fastpath"}
# the old flat module names: no files, answered by sphereface_tf._compat's import hook (nothing may import them)
COMPAT = {f"sphereface_tf.{name}" for name in (
    "align", "callbacks", "cli", "datasets", "distribute", "embed", "errors", "export", "io", "models", "plotting",
    "projector", "spherenet", "stats", "verification", "facedata", "facedata.sources", "facedata.cache", "facedata.tfrecords")}
# part → the parts it may import (besides itself); lower floors first
ALLOWED = {
    "core": {"core"},
    "util": {"core"},
    "training": {"core", "util"},
    "viz": {"core", "util"},
    "mnist": {"core", "util", "training", "viz"},
    "face": {"core", "util", "training", "viz"},
    "commands": {"core", "util", "training", "viz", "mnist", "face"},
    "init": {"core", "util"},
    "compat": {"core", "util", "training", "viz", "mnist", "face"},
}
# third-party modules that may be imported inside a function: optional or heavy, loaded only on the paths that need them
DEFERRED = {"tensorflow", "jax", "tensorboard", "plotly", "mlxtend", "matplotlib", "mtcnn"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module):
    if module in COMPAT:
        return "compat"
    if module in CORE:
        return "core"
    if module == "sphereface_tf":
        return "init"
    return module.split(".")[1]


def package_modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(source, module, known):
    """(imported package module, line, inside a function?) for every import statement."""
    tree = ast.parse(source)
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = module.split(".")[: -node.level] if not known.get(module, "").endswith("__init__.py") else module.split(".")
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            found.append((name, node.lineno, id(node) in inside))
    return found


def graph(sources):
    """module → {imported package module: line}; and the function-level imports of other packages."""
    edges, deferred = {}, []
    for module, source in sources.items():
        edges[module] = {}
        for name, line, in_function in imports_of(source, module, {}):
            target = name
            while target and target not in sources:
                target = target.rpartition(".")[0]
            if target and target.startswith("sphereface_tf"):
                if target != module:
                    edges[module].setdefault(target, line)
                    if in_function:
                        deferred.append((module, line, target))
            elif in_function:
                deferred.append((module, line, name))
    return edges, deferred


def breaches(edges):
    """Imports that go up a floor or sideways between parts."""
    found = []
    for module, targets in edges.items():
        for target, line in targets.items():
            a, b = part_of(module), part_of(target)
            if b != a and b not in ALLOWED[a] or b == "compat" and a != "compat":
                found.append(f"{module}:{line} ({a}) imports {target} ({b})")
            if target == "sphereface_tf" and module != "sphereface_tf":
                found.append(f"{module}:{line} imports the package's __init__")
    return found


def cycles(edges):
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for target in edges.get(node, ()):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def bad_deferred(deferred):
    return [f"{m}:{line} imports {name} inside a function" for m, line, name in deferred
            if name.split(".")[0] not in DEFERRED]


def read_package():
    return {name: path.read_text(encoding="utf-8") for name, path in package_modules().items()}


def test_imports_run_downward_only():
    edges, _ = graph(read_package())
    assert len(edges) > 30
    assert breaches(edges) == []


def test_no_import_loops_even_inside_functions():
    edges, _ = graph(read_package())
    assert cycles(edges) == []


def test_function_level_imports_only_defer_optional_heavy_dependencies():
    _, deferred = graph(read_package())
    assert bad_deferred(deferred) == []


def test_rules_catch_a_breach():
    sources = read_package()
    sources["sphereface_tf.layers"] += "\nfrom sphereface_tf.viz import stats\n"  # the core reaching up
    sources["sphereface_tf.viz.stats"] += "\ndef f():\n    import sphereface_tf.viz.plots\n    import json\n"
    sources["sphereface_tf.viz.plots"] += "\nimport sphereface_tf.viz.stats\n"  # a loop through a function-level import
    edges, deferred = graph(sources)
    assert any("sphereface_tf.layers" in b and "viz.stats" in b for b in breaches(edges))
    assert any({"sphereface_tf.viz.stats", "sphereface_tf.viz.plots"} <= set(c) for c in cycles(edges))
    assert any("json" in b for b in bad_deferred(deferred))


def test_no_sys_path_edits_outside_tests_and_docs():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", "docs", ".venv", "build", "data") or rel.parts[0].startswith("."):
            continue
        if "sys.path.insert" in path.read_text(encoding="utf-8") or "sys.path.append" in path.read_text(encoding="utf-8"):
            offenders.append(str(rel))
    assert offenders == []


def test_importing_the_package_starts_no_process_and_loads_only_the_core():
    """Beyond what `import keras` does itself (it asks `uname -p`), importing the package starts nothing."""
    code = ("import subprocess, sys\n"
            "import keras\n"
            "calls = []\n"
            "original = subprocess.Popen.__init__\n"
            "def spy(self, *a, **k):\n"
            "    calls.append(a)\n"
            "    return original(self, *a, **k)\n"
            "subprocess.Popen.__init__ = spy\n"
            "before = set(sys.modules)\n"
            "import sphereface_tf\n"
            "new = sorted(m for m in set(sys.modules) - before if m.startswith('sphereface_tf.'))\n"
            "print(len(calls), ' '.join(new))\n")
    env = {k: v for k, v in os.environ.items() if k != "SPHEREFACE_TF_QUIET_NATIVE_LOGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    calls, *modules = out.stdout.split()
    assert calls == "0"
    assert {part_of(m) for m in modules} <= {"core", "util"}, modules
    assert {"sphereface_tf.layers", "sphereface_tf.head"} <= set(modules)
    assert not [m for m in modules if part_of(m) == "util" and m not in ("sphereface_tf.util", "sphereface_tf.util.native_log")], modules


@pytest.mark.parametrize("module", sorted(COMPAT))
def test_old_module_names_still_import(module):
    __import__(module)
