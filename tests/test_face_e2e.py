"""End to end on synthetic identities: prepare → train SphereNet-4 → export → verify unseen identities.

The identities carry a strong per-image nuisance (illumination gradient and colour
cast, see tests/synthetic_faces.py), so an untrained network verifies them at about
chance; the trained one must have learnt the invariance from other identities.
Measured when this test was written (300 steps, batch 32, 2-core CPU; 300 pairs of 25
unseen people): untrained 0.610 ± 0.097 (AUC 0.63), trained 0.897 ± 0.064 (AUC 0.95).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.synthetic_faces import make_identity_folders, make_lfw

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_trained_spherenet4_verifies_unseen_identities(tmp_path):
    import keras

    from sphereface_tf.spherenet import spherenet

    make_identity_folders(tmp_path / "train", identities=30, per_identity=16, formats=("jpg",), nuisance=1.0)
    pairs = make_lfw(tmp_path / "lfw", people=25, per_person=5, folds=10, per_class=15, nuisance=1.0)  # other seed: unseen
    _run("face/prepare.py", "--images", str(tmp_path / "train"), "--out", str(tmp_path / "rec"), "--shards", "4")
    _run("face/train.py", "--data", str(tmp_path / "rec"), "--out", str(tmp_path / "run"), "--depth", "4",
         "--embedding-dim", "64", "--batch-size", "32", "--learning-rate", "0.01", "--lr-boundaries", "250", "280",
         "--steps", "300", "--checkpoint-every", "100", "--lambda-gamma", "0.5", "--precision", "float32", "--xla", "false")
    keras.utils.set_random_seed(0)
    spherenet(4, embedding_dim=64).save(tmp_path / "untrained.keras")

    def evaluate(model, name):
        _run("face/evaluate.py", "--model", str(model), "--pairs", pairs, "--images", str(tmp_path / "lfw"), "--out", str(tmp_path / name))
        return json.load(open(tmp_path / name / "report.json"))

    untrained = evaluate(tmp_path / "untrained.keras", "eval_untrained")
    trained = evaluate(tmp_path / "run" / "model.keras", "eval_trained")
    assert trained["pairs"] == 300
    assert untrained["accuracy_mean"] < 0.7, untrained  # the task is not solvable without training
    assert trained["accuracy_mean"] >= 0.8 and trained["roc_auc"] >= 0.85, trained
    assert trained["accuracy_mean"] - untrained["accuracy_mean"] >= 0.15

    # the exported SavedModel scores the same pairs the same way
    _run("face/export.py", "--model", str(tmp_path / "run" / "model.keras"), "--out", str(tmp_path / "export"))
    exported = evaluate(tmp_path / "export" / "embedding.keras", "eval_exported")
    np.testing.assert_allclose(exported["fold_accuracies"], trained["fold_accuracies"])
