"""Embedding API: flip concatenation, normalisation, compare, loading what we save."""

import keras
import numpy as np
import pytest

from sphereface_tf import SoftmaxHead, attach_head
from sphereface_tf.face.embed import (
    compare,
    embed,
    embedding_backbone,
    load_embedding_model,
)
from sphereface_tf.face.spherenet import spherenet


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    backbone = spherenet(4, embedding_dim=32)
    train, _ = attach_head(backbone, SoftmaxHead(5))
    return backbone, train


def test_flip_concatenation_doubles_dimension_and_normalises(models):
    backbone, _ = models
    images = np.random.default_rng(0).integers(0, 256, (3, 112, 96, 3)).astype(np.float32)
    features = embed(backbone, images)
    assert features.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-6)
    plain = backbone.predict(images, verbose=0)
    mirrored = backbone.predict(images[:, :, ::-1], verbose=0)
    both = np.concatenate([plain, mirrored], 1)
    np.testing.assert_allclose(features, both / np.linalg.norm(both, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert embed(backbone, images, flip=False).shape == (3, 32)
    # a mirrored image has the same flip-concatenated embedding up to the order of halves
    swapped = embed(backbone, images[:, :, ::-1])
    np.testing.assert_allclose(swapped[:, :32], features[:, 32:], rtol=1e-4, atol=1e-5)


def test_compare():
    assert compare(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    np.testing.assert_allclose(compare(np.eye(2), np.array([[0.0, 1.0], [0.0, 3.0]])), [0.0, 1.0])


def test_backbone_from_training_model_and_file(models, tmp_path):
    backbone, train = models
    assert embedding_backbone(train) is backbone
    assert embedding_backbone(backbone) is backbone
    train.save(tmp_path / "model.keras")
    loaded = load_embedding_model(tmp_path / "model.keras")
    images = np.full((1, 112, 96, 3), 100.0, np.float32)
    np.testing.assert_allclose(embed(loaded, images), embed(backbone, images), rtol=1e-6)
    with pytest.raises(ValueError, match=r"batch \(N, H, W, C\)"):
        embed(backbone, images[0])


def test_load_folder_preprocesses_like_training(tmp_path):
    from sphereface_tf.face.data import FaceDataError, load_folder
    from sphereface_tf.face.synthetic import make_identity_folders

    make_identity_folders(tmp_path / "faces", identities=3, per_identity=4, size=(120, 100))  # not 112×96: resized
    images, faces = load_folder(tmp_path / "faces", per_identity=2)
    assert images.shape == (6, 112, 96, 3) and images.dtype == np.uint8
    assert faces.labels.tolist() == [0, 0, 1, 1, 2, 2] and faces.names == ["id_000", "id_001", "id_002"]
    assert faces.keys[:2] == ["id_000/0000.jpg", "id_000/0001.png"]
    with pytest.raises(FaceDataError, match="no landmarks for 6 image"):
        load_folder(tmp_path / "faces", landmarks={}, per_identity=2)
    with pytest.raises(FaceDataError, match="not found"):
        load_folder(tmp_path / "missing")
