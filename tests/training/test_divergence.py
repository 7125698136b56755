"""Training that diverges: the cause (a feature-norm runaway at the paper's learning rate) is fixed by bounding the
step, and a run that still diverges stops with one line, keeps its last finite checkpoint and can be resumed."""

import json
import os
import re

import keras
import numpy as np
import pytest

from sphereface_tf.commands import face_evaluate, face_export, face_project, face_train, mnist_demo
from sphereface_tf.face.data import scan_identity_folders, write_cache
from sphereface_tf.face.embed import NonFiniteEmbeddings, embed
from sphereface_tf.face.spherenet import spherenet
from sphereface_tf.face.synthetic import make_identity_folders, make_lfw
from sphereface_tf.face.training import SCHEMA, train
from sphereface_tf.head import attach_head
from sphereface_tf.layers import SoftmaxHead
from sphereface_tf.util import cli
from sphereface_tf.training.callbacks import checkpointed_step
from sphereface_tf.util.errors import TrainingDiverged
from sphereface_tf.util.files import RunLock

pytestmark = pytest.mark.slow
SMALL = dict(depth=4, batch_size=32, learning_rate=0.1, lr_boundaries=[10000], deterministic=True, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """30 hard synthetic identities × 10 faces: SphereNet-4 at lr 0.1, batch 32 runs away within ~35 steps unclipped."""
    root = tmp_path_factory.mktemp("div")
    make_identity_folders(root / "img", identities=30, per_identity=10, formats=("jpg",), nuisance=1.0)
    write_cache(scan_identity_folders(str(root / "img")), str(root / "cache"), workers=1, progress=False)
    return str(root / "cache")


def test_the_runaway_reproduces_without_the_step_bound(cache, tmp_path):
    """Before the fix (no clipping) the paper's learning rate diverges: the feature norm and the gradient feed each other."""
    with pytest.raises(TrainingDiverged, match=r"the loss is not finite from step \d+.*original softmax, learning rate 0.1"):
        train(dict(SMALL, data=cache, out=str(tmp_path / "run"), variant="original", clip_norm=0.0, steps=60,
                   checkpoint_every=20), verbose=0)


@pytest.mark.parametrize("variant", ["original", "modified", "angular"])
def test_every_variant_trains_finite_at_the_papers_learning_rate(cache, tmp_path, variant):
    assert SCHEMA["clip_norm"].default > 0  # the recipe bounds the step
    state = train(dict(SMALL, data=cache, out=str(tmp_path / "run"), variant=variant, steps=36, checkpoint_every=18),
                  verbose=0)
    assert state["steps"] == 36 and np.isfinite(state["final_loss"])
    columns = open(tmp_path / "run" / "log.csv").readline().strip().split(",")
    assert "loss" in columns and not [c for c in columns if c.startswith("val_")]  # no empty validation columns


def test_a_diverging_run_stops_with_one_line_keeps_its_last_finite_checkpoint_and_resumes(cache, tmp_path, capsys):
    out = str(tmp_path / "run")
    # lr 1e-4 for steps 1–2 (checkpointed at 2), then × 1e12 from step 3: its update leaves step 4's loss non-finite
    argv = ["--data", cache, "--out", out, "--depth", "4", "--batch-size", "8", "--steps", "6", "--checkpoint-every", "2",
            "--learning-rate", "1e-4", "--lr-boundaries", "1", "--lr-decay", "1e12", "--clip-norm", "0"]
    assert cli.run(face_train.main, argv) == 3
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]  # (in-process: TF's own lines are not filtered)
    assert "Traceback" not in err and len(lines) == 1 and re.match(r"error: training diverged: (the loss is not finite from step 4|weights are not finite "
                                        r"at step 4)", lines[0]), lines
    assert "angular softmax, learning rate 0.0001" in lines[0]
    backup = os.path.join(out, "backup")
    assert checkpointed_step(backup) == 2  # the last finite epoch (steps 1–2), not the diverged one
    assert not os.path.exists(os.path.join(out, "model.keras"))
    assert cli.run(face_train.main, [*argv[:-4], "--lr-decay", "0.1", "--resume"]) == 0
    assert json.load(open(os.path.join(out, "final.json")))["steps"] == 6


def test_the_mnist_demo_stops_on_a_non_finite_loss(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), y_train=np.arange(64) % 10,
             x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    argv = ["--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "runs"), "--loss", "original", "--epochs", "3",
            "--learning-rate", "1e30", "--augment", "0"]
    assert cli.run(mnist_demo.main, argv) == 3
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "original softmax, learning rate 1e+30" in err[0] and "--learning-rate" in err[0]


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("nan")
    keras.utils.set_random_seed(0)
    model, _ = attach_head(spherenet(4, embedding_dim=8), SoftmaxHead(3))
    weights = model.get_weights()
    weights[0][...] = np.nan  # the first convolution
    model.set_weights(weights)
    model.save(root / "nan.keras")
    pairs = make_lfw(root / "lfw", people=4, per_person=2, folds=1, per_class=2)
    return dict(model=str(root / "nan.keras"), pairs=str(pairs), lfw=str(root / "lfw"), root=root, keras_model=model)


@pytest.mark.parametrize("tool", ["evaluate", "export", "project"])
def test_tools_refuse_a_model_with_non_finite_weights(nan_model, tool, capsys):
    w, out = nan_model, str(nan_model["root"] / f"out-{tool}")
    main, argv = {
        "evaluate": (face_evaluate.main, ["--model", w["model"], "--pairs", w["pairs"], "--images", w["lfw"], "--out", out]),
        "export": (face_export.main, ["--model", w["model"], "--out", out]),
        "project": (face_project.main, ["--model", w["model"], "--images", w["lfw"], "--out", out]),
    }[tool]
    assert cli.run(main, argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "NaN or inf" in err[0] and "conv1_1/kernel" in err[0]
    assert not os.path.exists(os.path.join(out, "report.json"))


def test_embed_refuses_non_finite_embeddings(nan_model):
    images = np.zeros((2, 112, 96, 3), np.uint8)
    with pytest.raises(NonFiniteEmbeddings, match="NaN or inf"):
        embed(nan_model["keras_model"], images)


def test_a_second_run_on_a_live_runs_folder_is_refused(cache, tmp_path, capsys):
    out = str(tmp_path / "run")
    with RunLock(out):  # as a live face/train.py holds it
        assert cli.run(face_train.main, ["--data", cache, "--out", out, "--depth", "4", "--steps", "2",
                                         "--checkpoint-every", "2"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and err[0].startswith(f"error: --out {out}: a run is writing there (process {os.getpid()} on ")
