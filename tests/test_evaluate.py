"""face/evaluate.py: the LFW protocol end to end on synthetic people."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from sphereface_tf.verification import read_pairs
from tests.synthetic_faces import make_lfw

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _evaluate(*args, expect=0):
    proc = subprocess.run([sys.executable, "face/evaluate.py", *args], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == expect, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    import keras

    from sphereface_tf.spherenet import spherenet

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "embedding.keras"
    spherenet(4, embedding_dim=64).save(path)
    return str(path)


def test_report_and_figures(untrained_model, tmp_path):
    pairs = make_lfw(tmp_path / "lfw")
    proc = _evaluate("--model", untrained_model, "--pairs", pairs, "--images", str(tmp_path / "lfw"), "--out", str(tmp_path / "out"))
    report = json.load(open(tmp_path / "out" / "report.json"))
    assert report["pairs"] == 24 and len(report["fold_accuracies"]) == 2 and len(report["thresholds"]) == 2
    assert 0.0 <= report["accuracy_mean"] <= 1.0 and 0.0 <= report["roc_auc"] <= 1.0
    assert set(report["tar_at_far"]) == {"1e-3", "1e-2"} and report["pairs_per_second"] > 0
    assert not report["resized_to_112x96"]
    assert report["matched_pairs"] == report["mismatched_pairs"] == 12
    # 12 negatives cannot resolve FAR 1e-2 or 1e-3: the report says so
    assert len(report["notes"]) == 2 and all("zero false accepts" in n for n in report["notes"])
    for name in ("roc.png", "scores.png", "hardest.png"):
        with Image.open(tmp_path / "out" / name) as image:
            image.load()
    assert "accuracy" in proc.stdout


def test_missing_image_and_malformed_pairs_are_clear_errors(untrained_model, tmp_path):
    pairs = make_lfw(tmp_path / "lfw")
    used = read_pairs(pairs)[0].first  # an image the pairs file certainly names
    os.remove(tmp_path / "lfw" / used)
    args = ["--model", untrained_model, "--images", str(tmp_path / "lfw"), "--out", str(tmp_path / "o")]
    proc = _evaluate(*args, "--pairs", pairs, expect=2)
    assert "missing under" in proc.stderr and used in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("1\t1\nPerson_00\t1\nPerson_01\t1\tPerson_02\t1\n")
    proc = _evaluate(*args, "--pairs", str(bad), expect=2)
    assert "bad.txt:2: expected 'name i j'" in proc.stderr


def test_images_of_another_size_are_resized_and_reported(untrained_model, tmp_path):
    pairs = make_lfw(tmp_path / "lfw")
    used = read_pairs(pairs)[-1].second  # the last image read must still be noticed
    Image.open(tmp_path / "lfw" / used).resize((250, 250)).save(tmp_path / "lfw" / used)
    proc = _evaluate("--model", untrained_model, "--pairs", pairs, "--images", str(tmp_path / "lfw"), "--out", str(tmp_path / "out"))
    assert json.load(open(tmp_path / "out" / "report.json"))["resized_to_112x96"] is True
    assert "were resized" in proc.stdout
