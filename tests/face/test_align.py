"""Five-point alignment: the similarity transform, the warp onto the template, the landmark file."""

import numpy as np
import pytest

from sphereface_tf.face.align import (
    LandmarkError,
    TEMPLATE_96x112,
    align_face,
    read_landmarks,
    similarity_transform,
)


def _random_similarity(rng):
    angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.5, 3.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([scale * rotation, rng.uniform(-40, 40, (2, 1))])


def test_similarity_transform_recovers_known_transform():
    rng = np.random.default_rng(0)
    for _ in range(20):
        truth = _random_similarity(rng)
        src = rng.uniform(0, 200, (5, 2))
        dst = src @ truth[:, :2].T + truth[:, 2]
        np.testing.assert_allclose(similarity_transform(src, dst), truth, atol=1e-9)


def test_alignment_maps_landmarks_onto_template_within_half_a_pixel():
    """Draw 5 bright dots at known landmarks, align, and find the dots on the template."""
    rng = np.random.default_rng(1)
    # A face 1.2–2× larger than the crop, rotated up to ±23°, centred in a 250×250 image (as CASIA's).
    angle, scale = rng.uniform(-0.4, 0.4), rng.uniform(1.2, 2.0)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centred = (TEMPLATE_96x112 - TEMPLATE_96x112.mean(0)) @ linear.T
    landmarks = centred + 125.0 + rng.uniform(-10, 10, 2)
    image = np.zeros((250, 250, 3), np.uint8)
    yy, xx = np.mgrid[0:250, 0:250]
    for x, y in landmarks:
        image[((xx - x) ** 2 + (yy - y) ** 2) <= 9.0] = 255
    aligned = align_face(image, landmarks).astype(float)[..., 0]
    assert aligned.shape == (112, 96)
    for tx, ty in TEMPLATE_96x112:
        ys, xs = np.mgrid[int(ty) - 5 : int(ty) + 6, int(tx) - 5 : int(tx) + 6]
        patch = aligned[ys, xs]
        centroid = np.array([(patch * xs).sum(), (patch * ys).sum()]) / patch.sum()
        assert np.hypot(*(centroid - [tx, ty])) < 0.5


def test_read_landmarks(tmp_path):
    path = tmp_path / "landmarks.txt"
    path.write_text("A/001.jpg 1 2 3 4 5 6 7 8 9 10\n\nB/002.jpg " + " ".join(["1.5"] * 10) + "\n")
    marks = read_landmarks(path)
    assert list(marks) == ["A/001.jpg", "B/002.jpg"]
    np.testing.assert_array_equal(marks["A/001.jpg"][1], [3, 4])
    path.write_text("A/001.jpg 1 2 3\n")
    with pytest.raises(LandmarkError, match=r"landmarks.txt:1: expected an image path and 10 numbers"):
        read_landmarks(path)
    path.write_text("A/001.jpg 1 2 3 4 5 6 7 8 9 x\n")
    with pytest.raises(LandmarkError, match=r"landmarks.txt:1: landmark coordinates must be numbers"):
        read_landmarks(path)
    with pytest.raises(LandmarkError, match="not found"):
        read_landmarks(tmp_path / "missing.txt")
