"""face/evaluate.py: the LFW protocol end to end on synthetic people (in this process, through the command's `main`)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.commands import face_evaluate
from sphereface_tf.face.data import load_faces
from sphereface_tf.face.embed import compare, embed, load_embedding_model
from sphereface_tf.face.synthetic import make_lfw
from sphereface_tf.face.verification import kfold_accuracy, read_pairs, roc_auc
from sphereface_tf.util import cli

pytestmark = pytest.mark.slow


def _evaluate(capsys, *args, expect=0):
    code = cli.run(face_evaluate.main, [str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == expect, out[-2000:] + err[-3000:]
    return out, err


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    import keras

    from sphereface_tf.face.spherenet import spherenet

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "embedding.keras"
    spherenet(4, embedding_dim=64).save(path)
    return str(path)


def test_report_and_figures(untrained_model, tmp_path, capsys):
    pairs = make_lfw(tmp_path / "lfw")
    out, _ = _evaluate(capsys, "--model", untrained_model, "--pairs", pairs, "--images", tmp_path / "lfw", "--out", tmp_path / "out")
    report = json.load(open(tmp_path / "out" / "report.json"))
    assert report["pairs"] == 24 and len(report["fold_accuracies"]) == 2 and len(report["thresholds"]) == 2
    # the figures of the report are those of the protocol on the model's own embeddings, recomputed here
    listed = read_pairs(pairs)
    files = sorted({name for p in listed for name in (p.first, p.second)})
    images, _ = load_faces([str(tmp_path / "lfw" / f) for f in files], files)
    features = dict(zip(files, embed(load_embedding_model(untrained_model), images), strict=True))
    scores = np.array([compare(features[p.first], features[p.second]) for p in listed])
    same = np.array([p.same for p in listed])
    expected = kfold_accuracy(scores, same, np.array([p.fold for p in listed]))
    assert report["accuracy_mean"] == pytest.approx(expected["mean"]) == pytest.approx(np.mean(report["fold_accuracies"]))
    assert report["fold_accuracies"] == pytest.approx(expected["folds"])
    assert report["roc_auc"] == pytest.approx(roc_auc(scores, same), abs=1e-6)
    assert set(report["tar_at_far"]) == {"1e-3", "1e-2"} and report["pairs_per_second"] > 0
    assert not report["resized_to_112x96"]
    assert report["matched_pairs"] == report["mismatched_pairs"] == 12
    # 12 negatives cannot resolve FAR 1e-2 or 1e-3: the report says so
    assert len(report["notes"]) == 2 and all("zero false accepts" in n for n in report["notes"])
    for name in ("roc.png", "scores.png", "hardest.png"):
        with Image.open(tmp_path / "out" / name) as image:
            image.load()
    assert f"accuracy {report['accuracy_mean']:.4f}" in out


def test_a_missing_image_is_named(untrained_model, tmp_path, capsys):
    # other bad input (malformed pairs, missing folders): tests/commands/test_bad_inputs.py
    pairs = make_lfw(tmp_path / "lfw")
    used = read_pairs(pairs)[0].first  # an image the pairs file certainly names
    os.remove(tmp_path / "lfw" / used)
    _, err = _evaluate(capsys, "--model", untrained_model, "--images", tmp_path / "lfw", "--out", tmp_path / "o", "--pairs", pairs,
                       expect=2)
    assert err.startswith("error:") and "missing under" in err and used in err


def test_images_of_another_size_are_resized_and_reported(untrained_model, tmp_path, capsys):
    pairs = make_lfw(tmp_path / "lfw")
    used = read_pairs(pairs)[-1].second  # the last image read must still be noticed
    Image.open(tmp_path / "lfw" / used).resize((250, 250)).save(tmp_path / "lfw" / used)
    out, _ = _evaluate(capsys, "--model", untrained_model, "--pairs", pairs, "--images", tmp_path / "lfw", "--out", tmp_path / "out")
    assert json.load(open(tmp_path / "out" / "report.json"))["resized_to_112x96"] is True
    assert "were resized" in out
