"""The 0.1 module names (sphereface_tf.models, .callbacks, .errors, .io, ...) still import, and give the very
objects of the new layout. The one test file that imports the old names on purpose; every other test uses the new paths."""

import importlib

import pytest

pytestmark = pytest.mark.core

# old module → {name: new module}: what release 0.1's users and its tests imported
MOVED = {
    "models": {"attach_head": "head", "mnist_cnn": "mnist.model", "conv_prelu": "mnist.model"},
    "callbacks": {"LambdaLogger": "head", "find_heads": "head", "StopAtStep": "training.callbacks",
                  "EpochTimer": "training.callbacks", "CheckpointOnInterrupt": "training.callbacks",
                  "TensorBoardScalars": "training.callbacks", "backup_and_restore": "training.callbacks",
                  "checkpointed_step": "training.callbacks", "optimizer_step": "training.callbacks"},
    "errors": {"InputError": "util.errors", "ModelFileError": "util.errors", "ConfigError": "util.errors",
               "check_output_dir": "util.errors", "read_text_lines": "util.errors",
               "load_keras_model": "util.modelfiles", "check_keras_file": "util.modelfiles"},
    "io": {"atomic_write": "util.files", "write_json": "util.files", "save_figure": "util.files",
           "save_model": "util.modelfiles", "ProgressBar": "util.progress", "fault_point": "util.faults"},
    "cli": {"run": "util.cli", "main": "util.cli", "error_line": "util.cli", "positive_int": "util.cli",
            "Terminated": "util.cli"},
    "plotting": {"opposite_view": "viz.plots", "plot_angle_histograms": "viz.plots", "plot_comparison": "viz.plots",
                 "plot_features_2d": "viz.plots", "plot_history": "viz.plots", "plot_psi": "viz.plots",
                 "plot_sphere": "viz.plots", "sphere_figure": "viz.plots", "plot_roc": "face.plots",
                 "plot_score_histogram": "face.plots", "plot_pair_grid": "face.plots"},
    "projector": {"sprite_image": "viz.projector", "write_projector": "viz.projector"},
    "stats": {"angle_statistics": "viz.stats", "HISTOGRAM_BINS": "viz.stats", "unit_rows": "angles"},
    "datasets": {"DataError": "mnist.data", "load_digits": "mnist.data", "read_idx": "mnist.data",
                 "IDX_FILES": "mnist.data"},
    "spherenet": {"UNITS": "face.spherenet", "WIDTHS": "face.spherenet", "conv_layer_count": "face.spherenet",
                  "forward_flops": "face.spherenet", "spherenet": "face.spherenet"},
    "align": {"TEMPLATE_96x112": "face.align", "LandmarkError": "face.align", "align_face": "face.align",
              "read_landmarks": "face.align", "similarity_transform": "face.align"},
    "verification": {"PairsError": "face.verification", "best_threshold": "face.verification",
                     "kfold_accuracy": "face.verification", "read_pairs": "face.verification",
                     "roc_auc": "face.verification", "roc_curve": "face.verification", "tar_at_far": "face.verification"},
    "embed": {"compare": "face.embed", "embed": "face.embed", "embedding_backbone": "face.embed",
              "load_embedding_model": "face.embed", "load_folder": "face.data"},
    "export": {"export_embedding": "face.export", "serving_model": "face.export"},
    "distribute": {"data_parallel": "training.distribute", "auto_precision": "training.distribute",
                   "local_accelerators": "training.distribute", "enable_multiworker_fit": "training.distribute"},
    "facedata": {name: "face.data" for name in (
        "FaceDataError", "FaceList", "FaceCache", "CacheBatches", "make_dataset", "num_classes", "training_input",
        "load_face", "load_faces", "scan_identity_folders", "read_list_file", "drop_small_identities", "write_cache",
        "write_tfrecords")},
    "facedata.cache": {"FACE_BYTES": "face.data.cache"},
}
CASES = [(old, name, new) for old, names in MOVED.items() for name, new in names.items()]


@pytest.mark.parametrize("old, name, new", CASES, ids=[f"{old}.{name}" for old, name, _ in CASES])
def test_old_name_is_the_new_object(old, name, new):
    legacy = importlib.import_module(f"sphereface_tf.{old}")
    current = importlib.import_module(f"sphereface_tf.{new}")
    assert getattr(legacy, name) is getattr(current, name)


def test_the_table_covers_every_old_module_and_no_file_stands_at_an_old_path():
    import pathlib

    from sphereface_tf import _compat

    package = pathlib.Path(importlib.import_module("sphereface_tf").__file__).parent
    assert set(MOVED) | {"facedata.sources", "facedata.tfrecords"} == set(_compat.MOVED)
    for old in _compat.MOVED:
        path = package.joinpath(*old.split("."))
        assert not path.with_suffix(".py").exists() and not path.is_dir(), f"{old}: a file at an old path"
    # the top level shows the core alone: the layer, the margin, exact products, angles, the head, the CPU fast paths
    top = sorted(p.name for p in package.iterdir() if not p.name.startswith("__"))
    assert top == ["_compat.py", "_version.py", "angles.py", "commands", "face", "fastpath.py", "head.py", "layers.py", "margin.py",
                   "mnist", "precise.py", "training", "util", "viz"], top


def test_an_old_import_warns_once_naming_the_new_module():
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    from sphereface_tf.models import attach_head\n"
            "    import sphereface_tf.models\n"
            "    from sphereface_tf.facedata.cache import FACE_BYTES\n"
            "for w in caught: print(w.category.__name__, w.filename.endswith('<string>'), w.message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("DeprecationWarning")]
    assert lines == [
        "DeprecationWarning True sphereface_tf.models is deprecated and will be removed in sphereface_tf 0.4; "
        "import from sphereface_tf.head, sphereface_tf.mnist.model",
        "DeprecationWarning True sphereface_tf.facedata is deprecated and will be removed in sphereface_tf 0.4; "
        "import from sphereface_tf.face.data",
        "DeprecationWarning True sphereface_tf.facedata.cache is deprecated and will be removed in sphereface_tf 0.4; "
        "import from sphereface_tf.face.data.cache"], out


def test_an_unknown_old_name_says_where_things_moved():
    import sphereface_tf.models as old

    with pytest.raises(AttributeError, match="has no attribute 'nothing_here' .*moved to sphereface_tf.head"):
        old.nothing_here
    namespace = {}
    exec("from sphereface_tf.plotting import *", namespace)  # the star import of a 0.1 script
    from sphereface_tf.face.plots import plot_roc
    from sphereface_tf.viz.plots import plot_sphere

    assert namespace["plot_sphere"] is plot_sphere and namespace["plot_roc"] is plot_roc


def test_old_style_imports_of_a_0_1_script_still_work():
    """The import lines of a script written for 0.1, as its README showed them."""
    from sphereface_tf import LambdaLogger, SoftmaxHead  # noqa: F401
    from sphereface_tf.callbacks import LambdaLogger as OldLogger
    from sphereface_tf.models import attach_head, mnist_cnn

    train, infer = attach_head(mnist_cnn(2, widths=(4, 4, 4)), SoftmaxHead(10))
    assert OldLogger is LambdaLogger and train.output.shape[-1] == 10 and infer.output.shape[-1] == 10


def test_nothing_of_ours_imports_an_old_name():
    """Only 0.1-era user code meets the deprecation: the package, its scripts, bench/ and docs/ use the new paths."""
    import pathlib
    import re

    from sphereface_tf import _compat

    root = pathlib.Path(__file__).resolve().parents[1]
    old = "|".join(re.escape(name) for name in sorted(_compat.MOVED, key=len, reverse=True))
    pattern = re.compile(rf"^\s*(from|import)\s+sphereface_tf\.({old})\b|^\s*from\s+sphereface_tf\s+import\s+.*\b({old})\b", re.M)
    offenders = [str(path.relative_to(root)) for folder in ("sphereface_tf", "face", "mnist_demo", "bench", "docs")
                 for path in (root / folder).rglob("*.py") if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
