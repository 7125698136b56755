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


@pytest.mark.parametrize("scale", [0.0, 0.15])
def test_round_trip_and_xla(tmp_path, scale):
    inputs = keras.Input((12, 10, 3))
    shift = RandomShift(2, seed=3, scale=scale, name="shift")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(shift(inputs))))
    model.compile(loss="mse", optimizer="sgd", jit_compile=True)
    x = np.random.default_rng(2).random((4, 12, 10, 3)).astype("float32")
    model.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)
    assert model.jit_compile is True  # Keras turns jit off for layers that cannot be compiled
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.get_layer("shift").get_config()["pixels"] == 2 and loaded.get_layer("shift").scale == scale
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pixels", [-1, 1.5, True])
def test_bad_pixels_are_refused(pixels):
    with pytest.raises(ValueError, match="whole number >= 0"):
        RandomShift(pixels)


def test_scale_rescales_each_image_about_its_centre_by_its_own_factor_within_the_bounds():
    """Pixels that carry their own coordinates: each output row (column) reads the input row
    round(c + (i − c)/s + d), |d| ≤ pixels, s in [1 − scale, 1 + scale], one s per image for rows and columns."""
    n, h, w, p, scale, fill = 32, 40, 30, 2, 0.2, -1.0
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    x = np.broadcast_to(np.stack([rr, cc, np.zeros_like(rr)], -1), (n, h, w, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(RandomShift(p, fill_value=fill, seed=4, scale=scale)(x, training=True))
    factors = []
    for image in y:
        inside = image[..., 2] == 0  # not fill
        assert inside.any() and np.all(image[~inside] == fill)
        # a row of the output reads one input row throughout (separable), and so does a column
        src_rows = [np.unique(image[i, inside[i], 0]) for i in range(h) if inside[i].any()]
        src_cols = [np.unique(image[inside[:, j], j, 1]) for j in range(w) if inside[:, j].any()]
        assert all(len(r) == 1 for r in src_rows) and all(len(c) == 1 for c in src_cols)
        out_rows = np.array([i for i in range(h) if inside[i].any()])
        out_cols = np.array([j for j in range(w) if inside[:, j].any()])
        src_rows, src_cols = np.concatenate(src_rows), np.concatenate(src_cols)
        best = None
        for s in np.linspace(1 - scale, 1 + scale, 801):  # the factor and offsets that explain this image exactly
            for dy in range(-p, p + 1):
                if not np.array_equal(np.round((h - 1) / 2 + (out_rows - (h - 1) / 2) / s + dy), src_rows):
                    continue
                for dx in range(-p, p + 1):
                    if np.array_equal(np.round((w - 1) / 2 + (out_cols - (w - 1) / 2) / s + dx), src_cols):
                        best = s
            if best is not None:
                break
        assert best is not None, "no factor in range and offsets within ±pixels produce this image"
        factors.append(best)
    assert np.ptp(factors) > 0.15  # the factors differ between images and span the range


def test_scale_zero_is_the_plain_shift_and_scale_round_trips(tmp_path):
    x = np.random.default_rng(5).integers(0, 255, (6, 12, 10, 3)).astype("float32")
    a = keras.ops.convert_to_numpy(RandomShift(3, seed=7)(x, training=True))
    b = keras.ops.convert_to_numpy(RandomShift(3, seed=7, scale=0.0)(x, training=True))
    np.testing.assert_array_equal(a, b)
    layer = RandomShift(2, seed=3, scale=0.1)
    assert RandomShift.from_config(layer.get_config()).scale == 0.1
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)  # identity at inference
    for bad in (-0.1, 0.5, True):
        with pytest.raises(ValueError, match="`scale` must be a number in"):
            RandomShift(2, scale=bad)
