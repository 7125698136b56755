"""Assertions shared by the tests, written so that they cannot pass vacuously."""

import numpy as np


def named_weights(model_or_path):
    """[(variable path, array)] of a model, a .keras file, or such a list already."""
    if isinstance(model_or_path, list):
        return model_or_path
    import keras

    import sphereface_tf  # noqa: F401  registers the layers for loading

    model = model_or_path
    if not isinstance(model, keras.Model):
        model = keras.models.load_model(str(model_or_path))
    return [(w.path, np.asarray(keras.ops.convert_to_numpy(w))) for w in model.weights]


def assert_same_weights(ours, theirs, rtol=1e-4, atol=1e-6):
    """Two models hold the same weights: same names in the same order, at least one, same shapes and values.

    (`zip` over two weight lists would pass when one of them is short or empty.)
    """
    ours, theirs = named_weights(ours), named_weights(theirs)
    assert len(ours) > 0, "no weights to compare"
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    for (name, a), (_, b) in zip(ours, theirs, strict=True):
        assert a.shape == b.shape, (name, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]  # the repository root (scripts run from here)
