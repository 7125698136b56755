"""End to end on synthetic identities: prepare → train SphereNet-4 → export → verify unseen identities.

The identities carry a strong per-image nuisance (illumination gradient and colour
cast, see sphereface_tf/face/synthetic.py), so an untrained network verifies them at about
chance; the trained one must have learnt the invariance from other identities.
Measured (2-core CPU; 300 pairs of 25 unseen people): untrained 0.610 ± 0.097 (AUC 0.63); trained
150 steps at learning rate 0.05, batch 32: 0.860–0.890 (AUC 0.91–0.97) in four runs (the data order is not
fixed), in half the time of the 300 steps at 0.01 this test first ran (0.897 ± 0.064, AUC 0.95); 120 steps at
0.03 reach only 0.803 (AUC 0.88).
"""

import numpy as np
import pytest

from sphereface_tf.face.data import prepare_faces
from sphereface_tf.face.export import export_model_file
from sphereface_tf.face.protocol import evaluate_model
from sphereface_tf.face.synthetic import make_identity_folders, make_lfw
from sphereface_tf.face.training import train

pytestmark = pytest.mark.slow


def test_trained_spherenet4_verifies_unseen_identities(tmp_path):
    """In this process, through the library calls the commands make (their command lines: tests/commands/)."""
    import keras

    from sphereface_tf.face.spherenet import spherenet

    make_identity_folders(tmp_path / "train", identities=30, per_identity=16, formats=("jpg",), nuisance=1.0)
    pairs = make_lfw(tmp_path / "lfw", people=25, per_person=5, folds=10, per_class=15, nuisance=1.0)  # other seed: unseen
    assert prepare_faces(str(tmp_path / "train"), str(tmp_path / "rec"), shards=4)["images"] == 480
    final = train(dict(data=str(tmp_path / "rec"), out=str(tmp_path / "run"), depth=4, embedding_dim=64, batch_size=32,
                       learning_rate=0.05, lr_boundaries=[125, 140], steps=150, checkpoint_every=50, lambda_gamma=1.0,
                       precision="float32", xla="false"), verbose=0)
    assert final["steps"] == 150
    keras.utils.set_random_seed(0)
    spherenet(4, embedding_dim=64).save(tmp_path / "untrained.keras")

    def evaluate(model, name):
        return evaluate_model(str(model), pairs, str(tmp_path / "lfw"), out=str(tmp_path / name))

    untrained = evaluate(tmp_path / "untrained.keras", "eval_untrained")
    trained = evaluate(tmp_path / "run" / "model.keras", "eval_trained")
    assert trained["pairs"] == 300
    assert untrained["accuracy_mean"] < 0.7, untrained  # the task is not solvable without training
    assert trained["accuracy_mean"] >= 0.8 and trained["roc_auc"] >= 0.85, trained
    assert trained["accuracy_mean"] - untrained["accuracy_mean"] >= 0.15

    # the exported model scores the same pairs the same way
    keras_path, _ = export_model_file(str(tmp_path / "run" / "model.keras"), str(tmp_path / "export"))
    exported = evaluate(keras_path, "eval_exported")
    assert len(exported["fold_accuracies"]) == 10
    np.testing.assert_allclose(exported["fold_accuracies"], trained["fold_accuracies"])
