"""SIGTERM and SIGKILL mid-way through writing: no half-written output, and the same command then succeeds.

Each tool is stopped at a fault point inside its writing (`sphereface_tf.util.faults.fault_point`,
armed by SPHEREFACE_FAULT=<point>:<signal>): after some outputs exist and before the
rest. SIGTERM stops in order (exit 143) and removes what was partial; SIGKILL leaves at
most a clearly marked partial (a `.partial` name, or a data set without its
completion marker, which readers refuse with "unfinished"). Then the same command runs
again, unarmed (in this process; the demo, which fixes TensorFlow op determinism for its process, in a new
one), and must succeed with complete outputs.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from sphereface_tf.face.synthetic import make_identity_folders, make_lfw
from tests import checks

pytestmark = pytest.mark.slow
REPO = str(checks.REPO)
SIGNALS = ["SIGTERM", "SIGKILL"]


def _run(args, fault=None, timeout=600):
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    env.pop("SPHEREFACE_FAULT", None)
    if fault:
        env["SPHEREFACE_FAULT"] = fault
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=timeout)


def _again(args, capsys):
    """The same command, unarmed, in this process (as `python <script>` runs it): its exit status."""
    from sphereface_tf.commands import face_evaluate, face_export, face_prepare
    from sphereface_tf.util import cli

    command = {"face/prepare.py": face_prepare, "face/export.py": face_export, "face/evaluate.py": face_evaluate}[args[0]]
    code = cli.run(command.main, [str(a) for a in args[1:]])
    assert code == 0, capsys.readouterr().err[-2000:]
    return code


def _stopped(proc, signal_name):
    expected = 128 + signal.SIGTERM if signal_name == "SIGTERM" else -signal.SIGKILL
    assert proc.returncode == expected, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def _files(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names) if os.path.isdir(folder) else []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import keras

    from sphereface_tf.face.spherenet import spherenet

    root = tmp_path_factory.mktemp("interrupt")
    make_identity_folders(root / "faces", identities=3, per_identity=4, formats=("jpg",))
    keras.utils.set_random_seed(0)
    spherenet(4, embedding_dim=32).save(root / "model.keras")
    pairs = make_lfw(root / "lfw", people=6, per_person=3, folds=2, per_class=3)
    return dict(root=root, faces=root / "faces", model=root / "model.keras", pairs=pairs, lfw=root / "lfw")


@pytest.mark.parametrize("signal_name", SIGNALS)
def test_prepare_cache(world, tmp_path, signal_name, capsys):
    from sphereface_tf.face.data import FaceCache, FaceDataError

    out = tmp_path / "cache"
    args = ["face/prepare.py", "--images", world["faces"], "--out", out, "--format", "cache"]
    _stopped(_run(args, f"prepare:{signal_name}"), signal_name)
    assert not (out / "cache.json").exists() and not (out / "faces.u8").exists()
    if signal_name == "SIGTERM":  # cleaned up
        assert not (out / "faces.u8.partial").exists()
    with pytest.raises(FaceDataError, match="unfinished face cache" if signal_name == "SIGKILL" else "not a face cache"):
        FaceCache(str(out))
    _again(args, capsys)
    assert len(FaceCache(str(out))) == 12 and not (out / "faces.u8.partial").exists()


@pytest.mark.parametrize("signal_name", SIGNALS)
def test_prepare_tfrecords(world, tmp_path, signal_name, capsys):
    from sphereface_tf.face.data import FaceDataError, training_input

    out = tmp_path / "rec"
    args = ["face/prepare.py", "--images", world["faces"], "--out", out, "--shards", "3"]
    _stopped(_run(args, f"prepare:{signal_name}"), signal_name)
    names = _files(out)
    assert "summary.json" not in names and not any(n.endswith(".tfrecord") for n in names), names
    if signal_name == "SIGTERM":  # nothing left
        assert names == []
    else:  # marked partial shards only (the fault point comes after some are written)
        assert names and all(n.endswith(".partial") for n in names), names
    with pytest.raises(FaceDataError):
        training_input(str(out), 4)
    _again(args, capsys)
    names = _files(out)
    assert sum(n.endswith(".tfrecord") for n in names) == 3 and not any(n.endswith(".partial") for n in names)
    assert json.load(open(out / "summary.json"))["images"] == 12


@pytest.mark.parametrize("signal_name", SIGNALS)
def test_export(world, tmp_path, signal_name, capsys):
    out = tmp_path / "export"
    args = ["face/export.py", "--model", world["model"], "--out", out]
    _stopped(_run(args, f"export:{signal_name}"), signal_name)
    assert not out.exists()  # the export appears whole or not at all
    partial = tmp_path / ".partial-export"
    assert partial.exists() == (signal_name == "SIGKILL")  # marked partial only when killed outright
    _again(args, capsys)
    assert (out / "embedding.keras").is_file() and (out / "saved_model" / "saved_model.pb").is_file()
    assert not partial.exists()


@pytest.mark.parametrize("signal_name", SIGNALS)
def test_evaluate(world, tmp_path, signal_name, capsys):
    out = tmp_path / "lfw-out"
    args = ["face/evaluate.py", "--model", world["model"], "--pairs", world["pairs"], "--images", world["lfw"], "--out", out]
    _stopped(_run(args, f"evaluate:{signal_name}"), signal_name)
    assert _files(out) == ["roc.png"]  # each file whole (no temporary names left), and no report: unfinished
    _again(args, capsys)
    assert _files(out) == ["hardest.png", "report.json", "roc.png", "scores.png"]
    assert json.load(open(out / "report.json"))["pairs"] == 12


@pytest.mark.parametrize("signal_name", SIGNALS)
def test_demo(tmp_path, signal_name):
    import numpy as np

    rng = np.random.default_rng(0)
    data = tmp_path / "digits.npz"
    np.savez(data, x_train=rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), y_train=np.arange(64) % 10,
             x_test=rng.integers(0, 255, (30, 28, 28), dtype=np.uint8), y_test=np.arange(30) % 10)
    runs = tmp_path / "runs"
    args = ["mnist_demo/run.py", "--data", data, "--out", runs, "--dim", "2", "--epochs", "1", "--max-steps", "2", "--no-animation"]
    proc = _run(args, f"demo:{signal_name}")
    _stopped(proc, signal_name)
    folders = os.listdir(runs)
    assert len(folders) == 1 and folders[0].startswith(".partial-"), folders  # only a marked partial run
    if signal_name == "SIGTERM":
        assert "run interrupted; its partial outputs are in" in proc.stderr
    proc = _run(args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    finished = [f for f in os.listdir(runs) if not f.startswith(".partial-")]
    assert len(finished) == 1 and os.path.isfile(runs / finished[0] / "metrics.json")
    # the demo's last lines are its results
    assert proc.stdout.strip().splitlines()[-3].startswith("Results (")
    assert "test accuracy" in proc.stdout.strip().splitlines()[-2]
