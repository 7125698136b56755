"""Training-level behaviour of SoftmaxHead: long runs, XLA, MirroredStrategy,
fresh-process loading, augmentation in attach_head. TensorFlow backend (real digits: tests/mnist/test_model.py)."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from sphereface_tf import LambdaLogger, SoftmaxHead, annealed_lambda, attach_head
from sphereface_tf.mnist.model import mnist_cnn
from tests import checks

pytestmark = pytest.mark.slow
REPO = checks.REPO


def _clusters(n=512, dim=8, classes=6, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 3
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.normal(size=(n, dim))).astype(np.float32)
    return x, y.astype(np.int32)


def _mlp_with_head(dim=8, classes=6, **head_kwargs):
    backbone = keras.Sequential(
        [keras.Input((dim,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)], name="mlp"
    )
    head = SoftmaxHead(classes, **head_kwargs)
    return (*attach_head(backbone, head), head)


def _compile(model, **kwargs):
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **kwargs,
    )


def _run(code, env=None, timeout=600):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, cwd=REPO, timeout=timeout, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_hundreds_of_angular_steps_never_nan(policy):
    keras.config.set_dtype_policy(policy)
    x, y = _clusters()
    train, infer, head = _mlp_with_head(lambda_base=100.0, lambda_gamma=0.5, lambda_min=0.0)
    _compile(train)
    history = train.fit([x, y], y, batch_size=16, epochs=10, verbose=0, callbacks=[LambdaLogger()])
    losses = np.array(history.history["loss"])
    assert np.isfinite(losses).all(), losses
    # The loss may rise as λ anneals to 0 (the margin gets harder), so judge the
    # learning on the margin-free inference path instead.
    assert np.mean(np.argmax(infer.predict(x, verbose=0), 1) == y) > 0.9
    assert int(keras.ops.convert_to_numpy(head.iterations)) == 10 * 32  # 320 steps
    assert history.history["lambda"][-1] == pytest.approx(annealed_lambda(320, 100.0, 0.5, 1.0, 0.0), rel=1e-5)
    assert "learning_rate" in history.history


def test_fit_with_xla_jit_compile():
    x, y = _clusters()
    train, infer, head = _mlp_with_head(lambda_base=50.0, lambda_min=1.0)
    _compile(train, jit_compile=True)
    history = train.fit([x, y], y, batch_size=64, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(keras.ops.convert_to_numpy(head.iterations)) == 3 * 8
    assert head.current_lambda() == pytest.approx(annealed_lambda(24, 50.0, 0.12, 1.0, 1.0), rel=1e-5)
    assert np.mean(np.argmax(infer.predict(x, verbose=0), 1) == y) > 0.5


def test_fit_under_mirrored_strategy_on_two_logical_cpus():
    result = _run(
        """
        import json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from sphereface_tf import SoftmaxHead
        from sphereface_tf import attach_head
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        rng = np.random.default_rng(0)
        x = rng.normal(size=(256, 8)).astype("float32"); y = (np.arange(256) % 4).astype("int32")
        x += np.eye(8, dtype="float32")[y] * 4
        with strategy.scope():
            backbone = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
            head = SoftmaxHead(4, lambda_base=20.0, lambda_min=1.0)
            train, infer = attach_head(backbone, head)
            train.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        h = train.fit([x, y], y, batch_size=32, epochs=2, verbose=0)
        print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                          "loss": h.history["loss"],
                          "iterations": int(keras.ops.convert_to_numpy(head.iterations)),
                          "lambda": head.current_lambda()}))
        """
    )
    assert result["replicas"] == 2
    assert np.isfinite(result["loss"]).all() and result["loss"][-1] < result["loss"][0]
    # One increment per global step, not one per replica.
    assert result["iterations"] == 2 * 8
    assert result["lambda"] == pytest.approx(annealed_lambda(16, 20.0, 0.12, 1.0, 1.0), rel=1e-5)


def test_keras_file_loads_in_fresh_process_with_identical_logits(tmp_path):
    x, y = _clusters(n=64)
    train, infer, head = _mlp_with_head(lambda_base=10.0, lambda_min=2.0)
    _compile(train)
    train.fit([x, y], y, batch_size=16, epochs=1, verbose=0)
    train.save(tmp_path / "train.keras")
    infer.save(tmp_path / "infer.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    result = _run(
        f"""
        import json, numpy as np, keras
        import sphereface_tf  # registers SoftmaxHead
        d = {str(tmp_path)!r}
        x, y = np.load(d + "/x.npy"), np.load(d + "/y.npy")
        train = keras.models.load_model(d + "/train.keras")  # safe_mode=True
        infer = keras.models.load_model(d + "/infer.keras")
        head = [l for l in train.layers if isinstance(l, sphereface_tf.SoftmaxHead)][0]
        np.save(d + "/train_logits.npy", keras.ops.convert_to_numpy(train([x, y])))
        np.save(d + "/infer_logits.npy", keras.ops.convert_to_numpy(infer(x)))
        print(json.dumps({{"iterations": int(keras.ops.convert_to_numpy(head.iterations)), "lambda": head.current_lambda()}}))
        """
    )
    assert result["iterations"] == 4
    assert result["lambda"] == pytest.approx(head.current_lambda())
    np.testing.assert_array_equal(np.load(tmp_path / "train_logits.npy"), keras.ops.convert_to_numpy(train([x, y])))
    np.testing.assert_array_equal(np.load(tmp_path / "infer_logits.npy"), keras.ops.convert_to_numpy(infer(x)))


def test_attach_head_augmentation_is_training_only_and_shares_weights():
    keras.utils.set_random_seed(0)
    backbone = mnist_cnn(2, widths=(4, 4, 4))
    shift = keras.layers.RandomTranslation(0.25, 0.25, fill_mode="constant", seed=0, name="random_shift")
    train, inference = attach_head(backbone, SoftmaxHead(10, variant="modified"), augment=shift)
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    labels = np.arange(4, dtype=np.int32)
    assert "random_shift" in [layer.name for layer in train.layers]
    assert "random_shift" not in [layer.name for layer in inference.layers]
    # outside training the shift is the identity, so both paths agree
    np.testing.assert_allclose(train([images, labels], training=False), inference(images), rtol=1e-5, atol=1e-6)
    # in training it moves the images, so the logits change
    assert not np.allclose(train([images, labels], training=True), train([images, labels], training=False))
    assert {id(w) for w in inference.weights} <= {id(w) for w in train.weights}
