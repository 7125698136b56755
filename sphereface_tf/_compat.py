"""The 0.1 module names, kept working by one mechanism until release 0.4 removes them (CHANGELOG.md).

Release 0.2 moved the flat modules of 0.1 (`sphereface_tf.models`, `.callbacks`, `.io`, ...) into
sub-packages. `import sphereface_tf.models` (or `from sphereface_tf.models import attach_head`)
still works: an import hook, installed by `sphereface_tf/__init__.py`, answers each old name in
`MOVED` with a module that looks its attributes up in the new modules — the very same objects —
and warns once per old name with a `DeprecationWarning` naming the new one. No file stands at the
old paths; saved models never needed them (layers register as `sphereface_tf>SoftmaxHead`).
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

REMOVED_IN = "0.4"

# old name (below sphereface_tf) → the new modules its names now live in, searched in order
MOVED = {
    "align": ("face.align",),
    "callbacks": ("head", "training.callbacks"),
    "cli": ("util.cli",),
    "datasets": ("mnist.data",),
    "distribute": ("training.distribute",),
    "embed": ("face.embed", "face.data"),
    "errors": ("util.errors", "util.modelfiles"),
    "export": ("face.export",),
    "io": ("util.files", "util.modelfiles", "util.progress", "util.faults"),
    "models": ("head", "mnist.model"),
    "plotting": ("viz.plots", "face.plots"),
    "projector": ("viz.projector",),
    "spherenet": ("face.spherenet",),
    "stats": ("viz.stats", "angles"),
    "verification": ("face.verification",),
    "facedata": ("face.data",),
    "facedata.cache": ("face.data.cache",),
    "facedata.sources": ("face.data.sources",),
    "facedata.tfrecords": ("face.data.tfrecords",),
}
PACKAGE = __name__.rpartition(".")[0]


class _MovedModule(types.ModuleType):
    """An old module name: attributes come from the new modules, on first use."""

    def __init__(self, old, targets):
        super().__init__(f"{PACKAGE}.{old}", f"Moved to {', '.join(f'{PACKAGE}.{t}' for t in targets)} "
                                             f"(removed in {REMOVED_IN}).")
        self._targets = tuple(f"{PACKAGE}.{t}" for t in targets)

    def _modules(self):
        return [importlib.import_module(t) for t in self._targets]

    def __getattr__(self, name):
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        if name == "__all__":
            names = []
            for module in self._modules():
                names += [n for n in getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
                          if n not in names]
            return names
        for module in self._modules():
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (it moved to {', '.join(self._targets)})")

    def __dir__(self):
        return sorted(set(self.__all__))


class _Loader(importlib.abc.Loader):
    def __init__(self, old):
        self.old = old

    def create_module(self, spec):
        return _MovedModule(self.old, MOVED[self.old])

    def exec_module(self, module):
        if any(other.startswith(self.old + ".") for other in MOVED):
            module.__path__ = []  # a package: its old submodules import too
        new = ", ".join(module._targets)
        warnings.warn(f"{module.__name__} is deprecated and will be removed in sphereface_tf {REMOVED_IN}; "
                      f"import from {new}", DeprecationWarning, stacklevel=_caller_level())


def _caller_level():
    """The `stacklevel` that points the warning at the user's import line.

    `warnings.warn` skips importlib's own frames when it counts, so only the others count here.
    """
    frame, level = sys._getframe(2), 1  # the caller of exec_module
    while frame is not None:
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):
            level += 1
            if name != __file__:
                return level
        frame = frame.f_back
    return 1


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        prefix = PACKAGE + "."
        if not fullname.startswith(prefix) or fullname[len(prefix):] not in MOVED:
            return None
        old = fullname[len(prefix):]
        return importlib.machinery.ModuleSpec(fullname, _Loader(old), is_package=any(o.startswith(old + ".") for o in MOVED))


def install():
    """Put the hook on `sys.meta_path` (once)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
