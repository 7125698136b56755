"""The CPU fast paths (sphereface_tf/fastpath.py) compute what the stock Keras layers compute.

Each test builds the same layer twice from one seed, installs the fast path in one, and compares
outputs and the gradients of a random linear function of the output with respect to the input
and every weight. Wrong flips, swapped channels or a wrong α reduction give differences of the
size of the values themselves, far above the tolerance.
"""

import numpy as np
import pytest

import keras

from sphereface_tf import fastpath

pytestmark = pytest.mark.skipif(not fastpath.available(), reason="fast paths are TensorFlow-on-CPU only")


def _pair(make, shape, seed=0):
    keras.utils.set_random_seed(seed)
    stock = keras.Sequential([keras.Input(shape[1:]), make()])
    fast = keras.Sequential([keras.Input(shape[1:]), make()])
    fast.set_weights(stock.get_weights())
    assert fastpath.accelerate(fast) == 1
    return stock, fast


def _values_and_gradients(model, x, probe):
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
        scalar = tf.reduce_sum(y * probe)
    grads = tape.gradient(scalar, [x] + [w.value for w in model.trainable_weights])
    return [y.numpy()] + [g.numpy() for g in grads]


def _compare(stock, fast, shape, rtol=1e-4, atol=1e-5):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    probe = rng.normal(size=stock(x).shape).astype("float32")
    got = _values_and_gradients(fast, x, probe)
    want = _values_and_gradients(stock, x, probe)
    assert len(got) == len(want)
    for name, g, w in zip(["output", "d input"] + [v.path for v in stock.trainable_weights], got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1.0, np.abs(w).max()), err_msg=name)


@pytest.mark.core
@pytest.mark.parametrize("c_in,c_out,bias", [(3, 8, True), (16, 5, False), (8, 8, False)])
@pytest.mark.parametrize("height,width", [(7, 6), (12, 9), (1, 1)])
def test_conv3x3_matches_stock_values_and_gradients(c_in, c_out, bias, height, width):
    make = lambda: keras.layers.Conv2D(c_out, 3, padding="same", use_bias=bias, bias_initializer="glorot_uniform")
    shape = (2, height, width, c_in)
    stock, fast = _pair(make, shape)
    _compare(stock, fast, shape)


@pytest.mark.core
@pytest.mark.parametrize("shared_axes", [[1, 2], None, [1], [2]])
def test_prelu_matches_stock_values_and_gradients(shared_axes):
    # random slopes of both signs, so the α gradient and the negative branch are both exercised
    make = lambda: keras.layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(-1.0, 1.0), shared_axes=shared_axes)
    shape = (3, 5, 4, 6)
    stock, fast = _pair(make, shape)
    _compare(stock, fast, shape)


@pytest.mark.core
def test_prelu_at_zero_gives_zero_like_keras():
    # at x = 0 both give 0; the gradient there differs (stock 0 from relu'(0) = 0, ours that of the x ≥ 0 branch),
    # a measure-zero point of a subgradient choice
    stock, fast = _pair(lambda: keras.layers.PReLU(alpha_initializer="ones"), (1, 3))
    x = np.zeros((1, 3), "float32")
    np.testing.assert_array_equal(fast(x), stock(x))


@pytest.mark.core
def test_only_eligible_layers_are_patched_and_twice_is_once():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)          # yes
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)    # stride 2: no
    x = keras.layers.Conv2D(4, 3, padding="valid")(x)              # valid: no
    x = keras.layers.Conv2D(4, 1, padding="same")(x)               # 1×1: no
    x = keras.layers.PReLU(shared_axes=[1, 2])(x)                  # yes
    model = keras.Model(inputs, x)
    assert fastpath.accelerate(model) == 2
    assert fastpath.accelerate(model) == 0


@pytest.mark.core
def test_spherenet_is_accelerated_and_still_saves_as_plain_keras(tmp_path):
    from sphereface_tf.face.spherenet import spherenet

    model = spherenet(4, embedding_dim=8)
    patched = [layer.name for layer in model.layers if getattr(layer, fastpath.PATCHED, False)]
    assert len(patched) == 4  # SphereNet-4: four stride-2 convs (not eligible) and their four PReLUs
    x = np.random.default_rng(0).uniform(0, 255, (2, 112, 96, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("prelu1_1")) is keras.layers.PReLU
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.core
def test_train_step_matches_stock_spherenet(monkeypatch):
    """One SGD step of SphereNet-10 (stride-1 convs and PReLUs patched) gives the stock model's weights."""
    from sphereface_tf.face.spherenet import spherenet

    def build(fast):
        monkeypatch.setenv("SPHEREFACE_FAST_PATHS", "1" if fast else "0")
        keras.utils.set_random_seed(3)
        model = spherenet(10, embedding_dim=4, input_shape=(16, 16, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return model

    stock, fast = build(False), build(True)
    assert not any(getattr(layer, fastpath.PATCHED, False) for layer in stock.layers)
    assert sum(getattr(layer, fastpath.PATCHED, False) for layer in fast.layers) == 6 + 10  # SphereNet-10: 6 stride-1 convs, 10 PReLUs
    fast.set_weights(stock.get_weights())
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    y = rng.normal(size=(4, 4)).astype("float32")
    stock.train_on_batch(x, y)
    fast.train_on_batch(x, y)
    for a, b in zip(stock.get_weights(), fast.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
