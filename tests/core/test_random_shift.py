"""RandomShift: each training image moved by its own offset within ±pixels, the border filled; identity at inference;
serializable; compiles with XLA on every backend (unlike Keras' RandomTranslation under JAX)."""

import keras
import numpy as np
import pytest

from sphereface_tf import RandomShift

pytestmark = pytest.mark.core


def offsets_of(x, y, p, fill):
    """The (dy, dx) in ±p that turn image x into y (numpy reference: pad, then crop)."""
    h, w = x.shape[:2]
    padded = np.pad(x, [[p, p], [p, p], [0, 0]], constant_values=fill)
    return [(dy - p, dx - p) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
            if np.array_equal(padded[dy:dy + h, dx:dx + w], y)]


def test_each_image_is_a_shift_of_its_own_within_the_bound():
    x = np.random.default_rng(0).integers(0, 255, (16, 12, 10, 3)).astype("float32")
    layer = RandomShift(3, fill_value=127.5, seed=1)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    found = [offsets_of(x[i], y[i], 3, 127.5) for i in range(16)]
    assert all(len(f) == 1 for f in found), found  # every output is exactly one shift of its input
    assert len({f[0] for f in found}) > 4  # the offsets differ between images
    assert max(max(abs(a), abs(b)) for (a, b), in found) <= 3


def test_identity_at_inference_and_for_zero_pixels():
    x = np.random.default_rng(1).random((2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(RandomShift(2)(x)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(RandomShift(0)(x, training=True)), x)


def test_round_trip_and_xla(tmp_path):
    inputs = keras.Input((12, 10, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(RandomShift(2, seed=3, name="shift")(inputs))))
    model.compile(loss="mse", optimizer="sgd", jit_compile=True)
    x = np.random.default_rng(2).random((4, 12, 10, 3)).astype("float32")
    model.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)
    assert model.jit_compile is True  # Keras turns jit off for layers that cannot be compiled
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.get_layer("shift").get_config()["pixels"] == 2
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pixels", [-1, 1.5, True])
def test_bad_pixels_are_refused(pixels):
    with pytest.raises(ValueError, match="whole number >= 0"):
        RandomShift(pixels)
