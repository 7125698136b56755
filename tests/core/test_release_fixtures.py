""".keras files saved by release 0.1.0 (tests/fixtures/release_0_1_0, written at commit d44d658) load in safe mode
with the outputs that release computed: the registered names and the saved state did not change."""

import os

import keras
import numpy as np
import pytest

import sphereface_tf  # noqa: F401  (registers the layers, as users do)
from sphereface_tf.face.embed import load_embedding_model

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "release_0_1_0")
pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def expected():
    return np.load(os.path.join(HERE, "expected.npz"))


def load(name):
    return keras.models.load_model(os.path.join(HERE, name), safe_mode=True)


def test_mnist_training_model_gives_the_saved_logits(expected):
    model = load("mnist_angular.keras")
    head = model.get_layer("softmax_head")
    assert head.variant == "angular" and head.m == 4
    assert head.current_lambda() == pytest.approx(float(expected["mnist_lambda"]))  # the λ step counter was saved
    logits = model.predict([expected["mnist_x"], expected["mnist_y"]], verbose=0)
    np.testing.assert_allclose(logits, expected["mnist_train_logits"], rtol=1e-5, atol=1e-5)


def test_mnist_embedding_model_gives_the_saved_features(expected):
    features = load("mnist_embedding.keras").predict(expected["mnist_x"], verbose=0)
    np.testing.assert_allclose(features, expected["mnist_features"], rtol=1e-5, atol=1e-5)


def test_spherenet4_with_head_gives_the_saved_logits_and_features(expected):
    model = load("spherenet4_angular.keras")
    assert model.get_layer("softmax_head").m == 2
    logits = model.predict([expected["face_x"], expected["face_y"]], verbose=0)
    np.testing.assert_allclose(logits, expected["face_logits"], rtol=1e-4, atol=1e-4)
    backbone = load_embedding_model(os.path.join(HERE, "spherenet4_angular.keras"), image_shape=(112, 96, 3))
    np.testing.assert_allclose(backbone.predict(expected["face_x"], verbose=0), expected["face_features"], rtol=1e-4, atol=1e-4)


def test_a_changed_registered_name_would_fail_to_load(tmp_path):
    """The check above can fail: the same archive with the layer's registered name changed does not load."""
    import zipfile

    source = os.path.join(HERE, "mnist_angular.keras")
    target = tmp_path / "renamed.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(b'"sphereface_tf>SoftmaxHead"', b'"sphereface_tf>RenamedHead"')
            zout.writestr(item, data)
    with pytest.raises(TypeError, match=r"could not be deserialized(.|\n)*sphereface_tf>RenamedHead"):
        keras.models.load_model(target, safe_mode=True)
