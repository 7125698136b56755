"""The TensorBoard projector export: sprite, tensors, metadata, config."""

import numpy as np
import pytest

from sphereface_tf.viz.projector import sprite_image, write_projector


def test_sprite_and_projector_export(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    sprite = sprite_image(images)
    assert sprite.shape == (4 * 28, 4 * 28)
    np.testing.assert_array_equal(sprite[28:56, :28], images[4])
    features = np.random.default_rng(1).normal(size=(10, 3))
    config = write_projector(tmp_path, features, {"label": list("abcdeabcde"), "predicted": list("abcdeabcdd")}, images)
    text = open(config).read()
    assert 'tensor_name: "embedding"' in text and 'metadata_path: "metadata.tsv"' in text
    assert 'image_path: "sprite.png"' in text and "single_image_dim: 28" in text
    assert np.loadtxt(tmp_path / "tensors.tsv").shape == (10, 3)
    lines = (tmp_path / "metadata.tsv").read_text().splitlines()
    assert lines[0] == "label\tpredicted" and len(lines) == 11
    assert list(tmp_path.glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="metadata column 'label' has 3 values for 10"):
        write_projector(tmp_path, features, {"label": ["a", "b", "c"]})
