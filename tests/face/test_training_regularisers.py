"""face/train.py's regularisers for small training sets.

`shift`: the train model moves the faces (a RandomShift layer), the embedding model does not.
`dropout`: a Dropout layer before FC1, in the backbone, active in training only.
"""

import os

import keras
import pytest

from sphereface_tf.face.data import scan_identity_folders, write_cache
from sphereface_tf.face.synthetic import make_identity_folders
from sphereface_tf.face.training import SCHEMA, build_face_model, train
from sphereface_tf.util.errors import ConfigError

pytestmark = pytest.mark.slow


def test_shift_puts_a_random_shift_in_the_train_model_only(tmp_path):
    make_identity_folders(tmp_path / "img", identities=3, per_identity=4, formats=("jpg",))
    write_cache(scan_identity_folders(str(tmp_path / "img")), str(tmp_path / "cache"), workers=1, progress=False)
    out = str(tmp_path / "run")
    state = train(dict(data=str(tmp_path / "cache"), out=out, depth=4, embedding_dim=8, batch_size=4, steps=2,
                       checkpoint_every=2, shift=4), verbose=0)
    assert state["steps"] == 2
    model = keras.models.load_model(os.path.join(out, "model.keras"))
    assert model.get_layer("random_shift").get_config()["pixels"] == 4
    embedding = keras.models.load_model(os.path.join(out, "embedding.keras"))
    assert not [layer for layer in embedding.layers if "shift" in layer.name]


def test_dropout_setting_puts_dropout_before_fc1():
    settings = SCHEMA.validate(dict(SCHEMA.defaults(), depth=4, embedding_dim=8, dropout=0.3))
    _, backbone, _ = build_face_model(settings, classes=5)
    names = [layer.name for layer in backbone.layers]
    assert names[-3:] == ["flatten", "dropout", "fc1"] and backbone.get_layer("dropout").rate == 0.3
    _, backbone, _ = build_face_model(dict(settings, dropout=0.0), classes=5)
    assert "dropout" not in [layer.name for layer in backbone.layers]
    with pytest.raises(ConfigError, match=r"dropout = 1.0: expected a number >= 0 and <= 0.95"):
        SCHEMA.validate(dict(SCHEMA.defaults(), dropout=1.0))


def test_ema_leaves_the_moving_average_of_the_trained_weights_in_the_model():
    """ema = μ: after fit, each trainable weight is a_T, a_1 = w_1, a_t = μ a_(t−1) + (1 − μ) w_t (NumPy reference)."""
    import numpy as np

    from sphereface_tf.face.training import compile_face_model

    settings = SCHEMA.validate(dict(SCHEMA.defaults(), depth=4, embedding_dim=8, ema=0.5, learning_rate=0.05,
                                    lr_boundaries=[100], precision="float32"))
    keras.utils.set_random_seed(0)
    model, _, _ = build_face_model(settings, classes=3)
    compile_face_model(model, settings)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, 112, 96, 3)).astype("float32")
    labels = rng.integers(0, 3, 8).astype("int32")
    trained = []  # the raw weights after each step (one step per epoch)
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: trained.append([keras.ops.convert_to_numpy(v) for v in model.trainable_weights]))
    model.fit([images, labels], labels, batch_size=8, epochs=4, verbose=0, callbacks=[record], shuffle=False)
    assert len(trained) == 4
    average = [w.astype("float64") for w in trained[0]]
    for step in trained[1:]:
        average = [0.5 * a + 0.5 * w for a, w in zip(average, step)]
    final = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    moved = [i for i, (a, b) in enumerate(zip(trained[-1], trained[-2])) if not np.allclose(a, b)]
    assert moved  # the weights did change, so the raw and averaged weights differ
    for i in moved:
        np.testing.assert_allclose(final[i], average[i], rtol=1e-4, atol=1e-6)
        assert not np.allclose(final[i], trained[-1][i], rtol=1e-4, atol=1e-6)
    with pytest.raises(ConfigError, match=r"ema = 1.0: expected a number >= 0 and <= 0.99999"):
        SCHEMA.validate(dict(SCHEMA.defaults(), ema=1.0))


def test_scale_puts_a_rescaling_random_shift_in_the_train_model():
    settings = SCHEMA.validate(dict(SCHEMA.defaults(), depth=4, embedding_dim=8, scale=0.15))
    model, backbone, _ = build_face_model(settings, classes=5)
    layer = model.get_layer("random_shift")
    assert (layer.pixels, layer.scale) == (0, 0.15)
    assert "random_shift" not in [layer.name for layer in backbone.layers]
    model, _, _ = build_face_model(dict(settings, scale=0.0), classes=5)
    assert "random_shift" not in [layer.name for layer in model.layers]
