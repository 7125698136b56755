"""Every entry point, given bad input, answers with one line that names it, says what is wrong and what to do.

Table-driven: each case is (entry point, arguments, the words the error line must
contain). Command-line cases run the script's `main` in-process through
`sphereface_tf.util.cli.run`, exactly as `python <script>` does (a few also as real
subprocesses, to see the whole stderr): exit status 2, no traceback, one `error:`
line (argparse's own errors: its usage lines and one `error:` line). Library cases
call the public loaders and expect their documented exception.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from sphereface_tf.commands import (
    face_evaluate,
    face_export,
    face_hypersphere,
    face_prepare,
    face_project,
    face_train,
    mnist_demo,
)
from sphereface_tf.face.align import LandmarkError, read_landmarks
from sphereface_tf.face.data import (
    FaceDataError,
    load_folder,
    make_dataset,
    num_classes,
    training_input,
)
from sphereface_tf.face.embed import load_embedding_model
from sphereface_tf.face.synthetic import make_identity_folders, make_lfw
from sphereface_tf.face.verification import PairsError, read_pairs
from sphereface_tf.util import cli
from sphereface_tf.util.errors import InputError, ModelFileError
from sphereface_tf.util.modelfiles import load_keras_model
from tests import checks

pytestmark = pytest.mark.slow
REPO = str(checks.REPO)
# entry point → (its script, its command module in sphereface_tf.commands)
COMMANDS = {"demo": ("mnist_demo/run.py", mnist_demo), "prepare": ("face/prepare.py", face_prepare),
            "train": ("face/train.py", face_train), "evaluate": ("face/evaluate.py", face_evaluate),
            "export": ("face/export.py", face_export), "project": ("face/project.py", face_project),
            "hypersphere": ("face/hypersphere.py", face_hypersphere)}


def _load_script(path):
    spec = importlib.util.spec_from_file_location("script_" + path.replace("/", "_").removesuffix(".py"), os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_script_is_its_command_main(name):
    """The scripts are thin: what the in-process cases below call is exactly what `python <script>` runs."""
    script, command = COMMANDS[name]
    module = _load_script(script)
    assert module.main is command.main and module.cli.main is cli.main


# ----------------------------------------------------------------- the world the cases damage
@pytest.fixture(scope="module")
def w(tmp_path_factory):
    import keras

    from sphereface_tf import SoftmaxHead, attach_head
    from sphereface_tf.face.data import (
        scan_identity_folders,
        write_cache,
        write_tfrecords,
    )
    from sphereface_tf.face.spherenet import spherenet
    from sphereface_tf.mnist.model import mnist_cnn

    root = tmp_path_factory.mktemp("world")
    make_identity_folders(root / "faces", identities=4, per_identity=5, formats=("jpg",))
    faces = scan_identity_folders(str(root / "faces"))
    write_tfrecords(faces, str(root / "rec"), shards=2, progress=False)
    write_cache(faces, str(root / "cache"), workers=1, progress=False)
    keras.utils.set_random_seed(0)
    model, _ = attach_head(spherenet(4, embedding_dim=32), SoftmaxHead(4))
    model.save(root / "face.keras")
    mnist_cnn(3).save(root / "mnist.keras")
    pairs = make_lfw(root / "lfw", people=6, per_person=3, folds=2, per_class=3)
    rng = np.random.default_rng(0)
    digits = dict(x_train=rng.integers(0, 255, (40, 28, 28), dtype=np.uint8), y_train=np.arange(40) % 10,
                  x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    np.savez(root / "digits.npz", **digits)
    (root / "a_file").write_text("not a folder\n")
    face_keras = (root / "face.keras").read_bytes()
    return dict(root=root, faces=str(root / "faces"), rec=str(root / "rec"), cache=str(root / "cache"),
                model=str(root / "face.keras"), mnist=str(root / "mnist.keras"), pairs=str(pairs),
                lfw=str(root / "lfw"), digits=digits, file=str(root / "a_file"), face_keras=face_keras,
                readonly=_unwritable_path())


def _unwritable_path():
    """A folder path no process here can create, root included (sysfs refuses new entries)."""
    for parent in ("/sys", "/proc"):
        try:
            import tempfile

            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError:
            return os.path.join(parent, "sphereface-tf-test-out")
    pytest.fail("no unwritable folder on this machine to test --out against")


def put(tmp, name, content):
    """Write `content` (str or bytes) to tmp/name and return the path."""
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def npz(tmp, w, **changes):
    arrays = {**w["digits"], **changes}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp / "d.npz"
    np.savez(path, **arrays)
    return str(path)


def truncated(tmp, data, keep=0.5, name="model.keras"):
    return put(tmp, name, data[: int(len(data) * keep)])


def damaged_zip_member(w, tmp):
    """A .keras whose config.json is intact but whose weights fail their CRC."""
    src = w["face_keras"]
    path = tmp / "crc.keras"
    path.write_bytes(src)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    data = bytearray(src)
    data[info.header_offset + 30 + len(info.filename) + len(info.extra or b"") + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(path)


def edited_cache(tmp, w, damage):
    import shutil

    copy = tmp / "cache"
    shutil.copytree(w["cache"], copy)
    damage(str(copy))
    return str(copy)


def edited_rec(tmp, w, damage):
    import shutil

    copy = tmp / "rec"
    shutil.copytree(w["rec"], copy)
    damage(str(copy))
    return str(copy)


def idx_folder(tmp, w, skip=None, truncate=None, magic=None):
    """A folder of the four MNIST IDX files, one of them left out, truncated or with a wrong magic number."""
    import struct

    folder = tmp / "idx"
    folder.mkdir()
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    for key, stem in names.items():
        if key == skip:
            continue
        array = np.asarray(w["digits"][key], np.uint8)
        code = magic if key == "x_train" and magic else 0x0800 + array.ndim
        data = struct.pack(">I", code) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
        if key == truncate:
            data = data[: len(data) // 2]
        (folder / stem).write_bytes(data)
    return str(folder)


TRAIN = ["--depth", "4", "--batch-size", "4", "--steps", "2", "--checkpoint-every", "2"]


def toml(tmp, text):
    return put(tmp, "c.toml", text)


# ----------------------------------------------------------------- the table
# (id, script, argv(w, tmp), words that must appear in the error line)
CLI_CASES = [
    # mnist_demo/run.py --data and options
    ("demo-missing-data", "demo", lambda w, t: ["--data", str(t / "none.npz")], "none.npz: no such file or folder"),
    ("demo-empty-npz", "demo", lambda w, t: ["--data", put(t, "e.npz", b"")], "e.npz: the file is empty"),
    ("demo-truncated-npz", "demo", lambda w, t: ["--data", truncated(t, open(w["root"] / "digits.npz", "rb").read(), 0.5, "t.npz")],
     "t.npz: a truncated or damaged .npz"),
    ("demo-corrupt-npz", "demo", lambda w, t: ["--data", put(t, "c.npz", os.urandom(300))], "c.npz: not a .npz file"),
    ("demo-npy-not-npz", "demo", lambda w, t: ["--data", put(t, "a.npz", b"\x93NUMPY" + b"\0" * 100)], "a single .npy array"),
    ("demo-pickled-npz", "demo", lambda w, t: ["--data", npz(t, w, y_train=np.array([{"a": 1}] * 40, dtype=object))],
     "object \\(pickled\\) arrays"),
    ("demo-npz-missing-array", "demo", lambda w, t: ["--data", npz(t, w, x_test=None)], "missing arrays \\['x_test'\\]"),
    ("demo-wrong-shape", "demo", lambda w, t: ["--data", npz(t, w, x_train=np.zeros((40, 32, 32), np.uint8))],
     "x_train must be 28×28 images"),
    ("demo-inconsistent-lengths", "demo", lambda w, t: ["--data", npz(t, w, y_train=np.arange(39) % 10)],
     "y_train must be 40 labels"),
    ("demo-float-labels", "demo", lambda w, t: ["--data", npz(t, w, y_train=np.arange(40) / 3.0)], "integer class labels"),
    ("demo-negative-labels", "demo", lambda w, t: ["--data", npz(t, w, y_train=np.arange(40) % 10 - 1)],
     "labels must lie in \\[0, 10\\)"),
    ("demo-empty-arrays", "demo", lambda w, t: ["--data", npz(t, w, x_train=np.zeros((0, 28, 28), np.uint8),
                                                              y_train=np.zeros(0, np.int64))], "x_train is empty"),
    ("demo-idx-missing-file", "demo", lambda w, t: ["--data", idx_folder(t, w, skip="y_test")], "t10k-labels"),
    ("demo-idx-truncated", "demo", lambda w, t: ["--data", idx_folder(t, w, truncate="x_test")], "t10k-images-idx3-ubyte"),
    ("demo-idx-bad-magic", "demo", lambda w, t: ["--data", idx_folder(t, w, magic=0x12345678)], "train-images-idx3-ubyte"),
    ("demo-out-is-file", "demo", lambda w, t: ["--data", w["root"] / "digits.npz", "--out", w["file"]], "is a file, not a folder"),
    ("demo-out-read-only", "demo", lambda w, t: ["--data", w["root"] / "digits.npz", "--out", w["readonly"]], "is not writable"),
    ("demo-out-under-file", "demo", lambda w, t: ["--out", os.path.join(w["file"], "sub")], "is a file; choose another path"),
    ("demo-m-zero", "demo", lambda w, t: ["--m", "0"], "--m must be an integer >= 1"),
    ("demo-epochs-negative", "demo", lambda w, t: ["--epochs", "-1"], "--epochs must be >= 1"),
    ("demo-batch-not-number", "demo", lambda w, t: ["--batch-size", "many"], "argument --batch-size: invalid int value"),
    ("demo-unknown-dataset", "demo", lambda w, t: ["--dataset", "cifar"], "argument --dataset: invalid choice"),
    ("demo-augment-out-of-range", "demo", lambda w, t: ["--augment", "9"], "--augment must be between 0 and 8 pixels"),
    ("demo-lambda-floor-out-of-range", "demo", lambda w, t: ["--lambda-floor-at", "1.5"], "--lambda-floor-at must be in"),
    # face/prepare.py
    ("prepare-missing-images", "prepare", lambda w, t: ["--images", str(t / "none"), "--out", str(t / "o")],
     "none: image folder not found"),
    ("prepare-empty-images", "prepare", lambda w, t: ["--images", str(t), "--out", str(t / "o")], "no images found"),
    ("prepare-images-is-file", "prepare", lambda w, t: ["--images", w["file"], "--out", str(t / "o")], "it is a file"),
    ("prepare-missing-list", "prepare", lambda w, t: ["--images", w["faces"], "--list", str(t / "l.txt"), "--out", str(t / "o")],
     "l.txt: list file not found"),
    ("prepare-list-bad-line", "prepare", lambda w, t: ["--images", w["faces"], "--list", put(t, "l.txt", "id_000/0000.jpg\n"),
                                                       "--out", str(t / "o")], "l.txt:1: expected 'path label'"),
    ("prepare-list-negative-label", "prepare", lambda w, t: ["--images", w["faces"], "--list", put(t, "l.txt", "id_000/0000.jpg -3\n"),
                                                             "--out", str(t / "o")], "labels must be >= 0"),
    ("prepare-list-missing-image", "prepare", lambda w, t: ["--images", w["faces"], "--list", put(t, "l.txt", "nobody/x.jpg 0\n"),
                                                            "--out", str(t / "o")], "image .*nobody/x.jpg does not exist"),
    ("prepare-list-empty", "prepare", lambda w, t: ["--images", w["faces"], "--list", put(t, "l.txt", "\n\n"), "--out", str(t / "o")],
     "names no images"),
    ("prepare-list-binary", "prepare", lambda w, t: ["--images", w["faces"], "--list", put(t, "l.txt", b"\xff\xfe\x00garbage"),
                                                     "--out", str(t / "o")], "not a text list file"),
    ("prepare-missing-landmarks", "prepare", lambda w, t: ["--images", w["faces"], "--landmarks", str(t / "m.txt"), "--out", str(t / "o")],
     "m.txt: landmark file not found"),
    ("prepare-landmarks-wrong-count", "prepare", lambda w, t: ["--images", w["faces"], "--landmarks", put(t, "m.txt", "id_000/0000.jpg 1 2 3\n"),
                                                               "--out", str(t / "o")], "m.txt:1: expected an image path and 10 numbers"),
    ("prepare-landmarks-not-numbers", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"),
                                                               "--landmarks", put(t, "m.txt", "a.jpg " + "x " * 10 + "\n")],
     "coordinates must be numbers"),
    ("prepare-landmarks-nan", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"),
                                                       "--landmarks", put(t, "m.txt", "a.jpg " + "nan " * 10 + "\n")],
     "coordinates must be finite"),
    ("prepare-landmarks-empty", "prepare", lambda w, t: ["--images", w["faces"], "--landmarks", put(t, "m.txt", ""), "--out", str(t / "o")],
     "no landmarks found"),
    ("prepare-out-is-file", "prepare", lambda w, t: ["--images", w["faces"], "--out", w["file"]], "is a file, not a folder"),
    ("prepare-out-read-only", "prepare", lambda w, t: ["--images", w["faces"], "--out", w["readonly"]], "is not writable"),
    ("prepare-shards-zero", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"), "--shards", "0"],
     "argument --shards: must be >= 1"),
    ("prepare-workers-text", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"), "--workers", "x"],
     "argument --workers: expected a whole number"),
    ("prepare-min-images-too-high", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"), "--min-images", "99"],
     "no identity has 99 or more images"),
    ("prepare-unknown-format", "prepare", lambda w, t: ["--images", w["faces"], "--out", str(t / "o"), "--format", "webp"],
     "argument --format: invalid choice"),
    ("prepare-all-unreadable-cache", "prepare", lambda w, t: ["--images", str(_unreadable_faces(t)), "--out", str(t / "o"),
                                                              "--format", "cache"], "none of the 2 images could be read"),
    ("prepare-all-unreadable-tfrecords", "prepare", lambda w, t: ["--images", str(_unreadable_faces(t)), "--out", str(t / "o")],
     "none of the 2 images could be read"),
    # face/train.py
    ("train-missing-data", "train", lambda w, t: ["--data", str(t / "none"), "--out", str(t / "o"), *TRAIN],
     "not a prepared face data set \\(no labels.json\\)"),
    ("train-data-not-prepared", "train", lambda w, t: ["--data", w["faces"], "--out", str(t / "o"), *TRAIN], "not a prepared face data set"),
    ("train-labels-json-corrupt", "train", lambda w, t: ["--data", edited_cache(t, w, lambda d: open(os.path.join(d, "labels.json"), "w").write("{")),
                                                         "--out", str(t / "o"), *TRAIN], "labels.json: not valid JSON"),
    ("train-cache-truncated", "train", lambda w, t: ["--data", edited_cache(t, w, lambda d: os.truncate(os.path.join(d, "faces.u8"), 1000)),
                                                     "--out", str(t / "o"), *TRAIN], "faces.u8: truncated"),
    ("train-cache-labels-out-of-range", "train", lambda w, t: [
        "--data", edited_cache(t, w, lambda d: np.save(os.path.join(d, "labels.npy"), np.full(20, 9, np.int32))),
        "--out", str(t / "o"), *TRAIN], "labels span \\[9, 9\\] but labels.json names 4"),
    ("train-tfrecords-unfinished", "train", lambda w, t: ["--data", edited_rec(t, w, lambda d: os.unlink(os.path.join(d, "summary.json"))),
                                                          "--out", str(t / "o"), *TRAIN], "unfinished TFRecords"),
    ("train-tfrecords-damaged", "train", lambda w, t: ["--data", edited_rec(t, w, _flip_bytes_in_a_shard), "--out", str(t / "o"),
                                                       *TRAIN], "damaged TFRecord data \\(corrupted record at \\d+\\); run face/prepare.py again"),
    ("train-missing-config", "train", lambda w, t: ["--config", str(t / "c.toml")], "c.toml: config file not found"),
    ("train-config-syntax", "train", lambda w, t: ["--config", toml(t, "steps = = 3\n")], "c.toml: not valid TOML"),
    ("train-config-binary", "train", lambda w, t: ["--config", put(t, "c.toml", b"\xff\xfe\x00")],
     "c.toml: not valid TOML"),
    ("train-config-unknown-key", "train", lambda w, t: ["--config", toml(t, "stepz = 3\n")], "unknown keys \\['stepz'\\]"),
    ("train-config-wrong-type", "train", lambda w, t: ["--config", toml(t, 'steps = "many"\n')], "steps = 'many': expected a whole number"),
    ("train-config-wrong-list", "train", lambda w, t: ["--config", toml(t, 'lr_boundaries = "x"\n')], "lr_boundaries = 'x': expected a list"),
    ("train-config-bool-for-number", "train", lambda w, t: ["--config", toml(t, "learning_rate = true\n")],
     "learning_rate = True: expected a number"),
    ("train-config-bad-choice", "train", lambda w, t: ["--config", toml(t, 'precision = "fp8"\n')], "precision = 'fp8': expected one of"),
    ("train-steps-zero", "train", lambda w, t: ["--steps", "0"], "argument --steps: expected a whole number >= 1, got 0"),
    ("train-steps-not-multiple", "train", lambda w, t: ["--steps", "5", "--checkpoint-every", "2"], "must be a multiple of --checkpoint-every"),
    ("train-negative-lr", "train", lambda w, t: ["--learning-rate", "-0.1"], "argument --learning-rate: expected a number > 0 \\(finite\\), got -0.1"),
    ("train-nan-lambda", "train", lambda w, t: ["--lambda-min", "nan"], "argument --lambda-min: expected a number >= 0 \\(finite\\), got nan"),
    ("train-bad-depth", "train", lambda w, t: ["--depth", "18"], "argument --depth: expected one of 4, 10, 20, 36, 64, got 18"),
    ("train-bad-precision-flag", "train", lambda w, t: ["--precision", "fp8"], "argument --precision: expected one of 'auto', .*got 'fp8'"),
    ("train-out-is-file", "train", lambda w, t: ["--data", w["cache"], "--out", w["file"], *TRAIN], "is a file, not a folder"),
    ("train-resume-without-checkpoint", "train", lambda w, t: ["--data", w["cache"], "--out", str(t / "o"), "--resume", *TRAIN],
     "--resume: no checkpoint in"),
    ("train-unfinished-run", "train", lambda w, t: ["--data", w["cache"], "--out", _with_backup(t), *TRAIN], "holds an unfinished run"),
    ("train-resume-damaged-checkpoint", "train", lambda w, t: ["--data", w["cache"], "--out", _with_backup(t, b"junk"), "--resume", *TRAIN],
     "no readable checkpoint"),
    # face/evaluate.py
    *[(f"evaluate-model-{kind}", "evaluate", lambda w, t, make=make: ["--model", make(w, t), "--pairs", w["pairs"], "--images", w["lfw"],
                                                                      "--out", str(t / "o")], words)
      for kind, make, words in [
          ("missing", lambda w, t: str(t / "none.keras"), "none.keras: model file not found"),
          ("empty", lambda w, t: put(t, "m.keras", b""), "m.keras: the file is empty"),
          ("truncated", lambda w, t: truncated(t, w["face_keras"]), "model.keras: not a complete .keras file"),
          ("text", lambda w, t: put(t, "m.keras", "hello\n"), "m.keras: not a complete .keras file"),
          ("folder", lambda w, t: str(t), "is a folder; give the .keras file"),
          ("crc", damaged_zip_member, "crc.keras: damaged .keras archive"),
          ("zip-not-keras", lambda w, t: _zip(t), "z.keras: a zip archive but not a .keras model"),
          ("wrong-kind", lambda w, t: w["mnist"], "a model for images of shape \\(28, 28, 1\\), this tool needs \\(112, 96, 3\\)"),
      ]],
    ("evaluate-missing-pairs", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", str(t / "p.txt"), "--images", w["lfw"],
                                                         "--out", str(t / "o")], "p.txt: pairs file not found"),
    ("evaluate-pairs-bad-header", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", put(t, "p.txt", "ten folds\n"),
                                                            "--images", w["lfw"], "--out", str(t / "o")], "p.txt:1: header must be"),
    ("evaluate-pairs-short", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", put(t, "p.txt", "1\t2\nA\t1\t2\n"),
                                                       "--images", w["lfw"], "--out", str(t / "o")], "header promises 1 fold"),
    ("evaluate-pairs-malformed", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", put(t, "p.txt", "1\t1\nA\t1\nB\t1\tC\t1\n"),
                                                           "--images", w["lfw"], "--out", str(t / "o")], "p.txt:2: expected 'name i j'"),
    ("evaluate-pairs-empty", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", put(t, "p.txt", ""), "--images", w["lfw"],
                                                       "--out", str(t / "o")], "empty pairs file"),
    ("evaluate-images-missing-folder", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", w["pairs"], "--images", str(t / "x"),
                                                                 "--out", str(t / "o")], "image folder not found"),
    ("evaluate-images-missing-files", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", w["pairs"], "--images", w["faces"],
                                                                "--out", str(t / "o")], "are missing under --images"),
    ("evaluate-landmarks-missing-entries", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", w["pairs"], "--images", w["lfw"],
                                                                     "--landmarks", put(t, "m.txt", "x.jpg " + "1 " * 10), "--out", str(t / "o")],
     "no landmarks for"),
    ("evaluate-out-is-file", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", w["pairs"], "--images", w["lfw"], "--out", w["file"]],
     "is a file, not a folder"),
    ("evaluate-batch-zero", "evaluate", lambda w, t: ["--model", w["model"], "--pairs", w["pairs"], "--images", w["lfw"], "--out", str(t),
                                                      "--batch-size", "0"], "argument --batch-size: must be >= 1"),
    # face/export.py
    ("export-missing-model", "export", lambda w, t: ["--model", str(t / "none.keras"), "--out", str(t / "o")], "model file not found"),
    ("export-truncated-model", "export", lambda w, t: ["--model", truncated(t, w["face_keras"], 0.9), "--out", str(t / "o")],
     "not a complete .keras file"),
    ("export-out-is-file", "export", lambda w, t: ["--model", w["model"], "--out", w["file"]], "is a file, not a folder"),
    ("export-out-not-empty", "export", lambda w, t: ["--model", w["model"], "--out", os.path.dirname(put(t, "o/x", "x"))],
     "holds files already"),
    ("export-out-read-only", "export", lambda w, t: ["--model", w["model"], "--out", w["readonly"]], "is not writable"),
    # face/project.py
    ("project-corrupt-model", "project", lambda w, t: ["--model", put(t, "m.keras", os.urandom(500)), "--images", w["faces"],
                                                       "--out", str(t / "o")], "not a complete .keras file"),
    ("project-missing-images", "project", lambda w, t: ["--model", w["model"], "--images", str(t / "none"), "--out", str(t / "o")],
     "image folder not found"),
    ("project-per-identity-zero", "project", lambda w, t: ["--model", w["model"], "--images", w["faces"], "--out", str(t / "o"),
                                                           "--per-identity", "0"], "argument --per-identity: must be >= 1"),
    ("project-thumbnail-width-text", "project", lambda w, t: ["--model", w["model"], "--images", w["faces"], "--out", str(t / "o"),
                                                              "--thumbnail-width", "wide"], "argument --thumbnail-width"),
    ("project-out-is-file", "project", lambda w, t: ["--model", w["model"], "--images", w["faces"], "--out", w["file"]],
     "is a file, not a folder"),
    ("project-wrong-kind-model", "project", lambda w, t: ["--model", w["mnist"], "--images", w["faces"], "--out", str(t / "o")],
     "this tool needs \\(112, 96, 3\\)"),
    # sphereface-hypersphere: the identities, the held-out share, the margins, the images, --out
    ("hypersphere-one-identity", "hypersphere", lambda w, t: ["--images", w["faces"], "--identities", "1", "--out", str(t / "o")],
     "--identities: at least 2"),
    ("hypersphere-more-identities-than-folders", "hypersphere",
     lambda w, t: ["--images", w["faces"], "--identities", "5", "--out", str(t / "o")],
     "asked for 5 identities, the folder has 4 with images"),
    ("hypersphere-too-few-faces", "hypersphere", lambda w, t: ["--images", _small_identities(t), "--identities", "3", "--out", str(t / "o")],
     "0 of the 3 identities with the most images have the 4 faces .* too few: id_000 \\(3\\)"),
    ("hypersphere-fractional-margin", "hypersphere", lambda w, t: ["--images", w["faces"], "--margins", "1", "2.5", "--out", str(t / "o")],
     "a margin m is a whole number >= 1, got '2.5'"),
    ("hypersphere-zero-margin", "hypersphere", lambda w, t: ["--images", w["faces"], "--margins", "0", "--out", str(t / "o")],
     "a margin m is a whole number >= 1, got '0'"),
    ("hypersphere-heldout-one", "hypersphere", lambda w, t: ["--images", w["faces"], "--heldout", "1", "--out", str(t / "o")],
     "--heldout: .*a share between 0 and 1"),
    ("hypersphere-unreadable-image", "hypersphere", lambda w, t: ["--images", _one_broken_face(w, t), "--out", str(t / "o"),
                                                                      "--identities", "4"],
     "id_001/0002.jpg: unreadable image .*replace or remove it"),
    ("hypersphere-missing-images", "hypersphere", lambda w, t: ["--images", str(t / "nowhere"), "--out", str(t / "o")],
     "nowhere: image folder not found"),
    ("hypersphere-out-is-file", "hypersphere", lambda w, t: ["--images", w["faces"], "--out", w["file"]], "is a file, not a folder"),
]


def _flip_bytes_in_a_shard(folder):
    import glob

    for shard in glob.glob(os.path.join(folder, "faces-*.tfrecord")):
        data = bytearray(open(shard, "rb").read())
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        open(shard, "wb").write(bytes(data))


def _unreadable_faces(tmp):
    for k in range(2):
        put(tmp, f"broken/id_00{k}/0000.jpg", b"not an image")
    return tmp / "broken"


def _small_identities(tmp):
    make_identity_folders(tmp / "small", identities=3, per_identity=3, formats=("jpg",))
    return str(tmp / "small")


def _one_broken_face(w, tmp):
    import shutil

    shutil.copytree(w["faces"], tmp / "faces")
    (tmp / "faces" / "id_001" / "0002.jpg").write_bytes(b"not an image")
    return str(tmp / "faces")


def _zip(tmp):
    path = tmp / "z.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return str(path)


def _with_backup(tmp, weights=None):
    out = tmp / "run"
    (out / "backup").mkdir(parents=True)
    if weights is not None:
        (out / "backup" / "latest.weights.h5").write_bytes(weights)
    return str(out)


def run_cli(name, argv, capsys):
    try:
        code = cli.run(COMMANDS[name][1].main, [str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_command_line_input_gets_one_clear_error_line(case, w, tmp_path, capsys):
    _, script, argv, words = case
    code, err = run_cli(script, argv(w, tmp_path), capsys)
    progress = re.compile(r"^[\d,]+/[\d,]+ \w+s \(\d+ %")  # face/prepare.py's progress lines come before
    lines = [line for line in err.splitlines() if line.strip() and not progress.match(line)]
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in lines if line.startswith("error:") or ": error:" in line]
    assert len(errors) == 1, lines
    if not any(line.startswith("usage:") for line in lines):  # ours: exactly one line
        assert lines == errors, lines
    assert re.search(words, errors[0]), errors[0]


# ----------------------------------------------------------------- library loaders
LIB_CASES = [
    ("load_embedding_model-truncated", lambda w, t: load_embedding_model(truncated(t, w["face_keras"])), ModelFileError,
     "not a complete .keras file"),
    ("load_embedding_model-wrong-kind", lambda w, t: load_embedding_model(w["mnist"], image_shape=(112, 96, 3)), ModelFileError,
     "this tool needs"),
    ("load_keras_model-missing", lambda w, t: load_keras_model(str(t / "x.keras")), ModelFileError, "model file not found"),
    ("load_keras_model-bad-config", lambda w, t: load_keras_model(_bad_config(t, w)), ModelFileError,
     "cannot be loaded as a Keras model"),
    ("load_folder-missing", lambda w, t: load_folder(str(t / "none")), FaceDataError, "image folder not found"),
    ("load_folder-empty", lambda w, t: load_folder(str(t)), FaceDataError, "no images found"),
    ("read_pairs-folder", lambda w, t: read_pairs(str(t)), PairsError, "is a folder, expected a pairs file"),
    ("read_pairs-wrong-kind", lambda w, t: read_pairs(put(t, "p.txt", "1\t1\nA\t1\tB\t2\nC\t1\t2\n")), PairsError,
     "expected a matched pair here"),
    ("read_landmarks-binary", lambda w, t: read_landmarks(put(t, "m.txt", b"\x89PNG\r\n\x1a\n\xff")), LandmarkError,
     "not a text landmark file"),
    ("make_dataset-no-shards", lambda w, t: make_dataset(str(t), 4), FaceDataError, "not a prepared face data set"),
    ("num_classes-empty-map", lambda w, t: num_classes(os.path.dirname(put(t, "d/labels.json", "{}"))), FaceDataError,
     "expected a non-empty"),
    ("training_input-missing", lambda w, t: training_input(str(t / "none"), 4), FaceDataError, "data folder not found"),
]


def _bad_config(tmp, w):
    """A .keras archive whose config names a class that does not exist."""
    src = tmp / "src.keras"
    src.write_bytes(w["face_keras"])
    path = tmp / "bad.keras"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["class_name"] = "NoSuchModelClass"
                config["module"] = "nowhere"
                data = json.dumps(config).encode()
            new.writestr(item, data)
    return str(path)


@pytest.mark.parametrize("case", LIB_CASES, ids=[c[0] for c in LIB_CASES])
def test_public_loaders_raise_their_documented_error(case, w, tmp_path):
    _, call, error, words = case
    with pytest.raises(error) as info:
        call(w, tmp_path)
    assert isinstance(info.value, InputError) and re.search(words, str(info.value)), str(info.value)


# ----------------------------------------------------------------- as real processes
# A few of the table's cases again as real processes, to see the whole stderr (TensorFlow's native start-up
# lines included).
PROCESS_CASES = [
    ("train", ["face/train.py"], lambda w, t: ["--data", str(t / "none"), "--out", str(t / "o")], "not a prepared face data set"),
    ("evaluate", ["face/evaluate.py"], lambda w, t: ["--model", truncated(t, w["face_keras"]), "--pairs", w["pairs"],
                                                     "--images", w["lfw"], "--out", str(t / "o")], "not a complete .keras file"),
    ("export", ["face/export.py"], lambda w, t: ["--model", put(t, "m.keras", ""), "--out", str(t / "o")], "the file is empty"),
    # the installed console script (setup.cfg) filters TensorFlow's lines as the scripts do
    ("console-export", [os.path.join(os.path.dirname(sys.executable), "sphereface-export")],
     lambda w, t: ["--model", put(t, "m.keras", ""), "--out", str(t / "o")], "the file is empty"),
]


@pytest.mark.parametrize("case", PROCESS_CASES, ids=[c[0] for c in PROCESS_CASES])
def test_as_a_process_stderr_is_exactly_the_error_line(case, w, tmp_path):
    """The whole stderr is the one error line."""
    _, script, argv, words = case
    proc = subprocess.run([sys.executable, *script, *map(str, argv(w, tmp_path))], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={k: v for k, v in os.environ.items() if k != "SPHEREFACE_TF_QUIET_NATIVE_LOGS"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], proc.stderr


def test_case_count():
    """At least 60 distinct bad inputs (the issue's floor), each under its own id so that none hides behind another,
    every entry point among them; the decoded cache's damage cases (tests/face/test_cache.py) add theirs."""
    from tests.face.test_cache import DAMAGED_CACHES

    ids = [c[0] for c in CLI_CASES] + [c[0] for c in LIB_CASES]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    assert {c[1] for c in CLI_CASES} == set(COMMANDS)
    assert len(ids) >= 60 and len(DAMAGED_CACHES) >= 12
