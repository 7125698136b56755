"""SphereNet architecture (paper Table 2) and five-point alignment."""

import numpy as np
import pytest

from sphereface_tf.align import (
    TEMPLATE_96x112, LandmarkError, align_face, read_landmarks, similarity_transform,
)
from sphereface_tf.spherenet import UNITS, WIDTHS, conv_layer_count, forward_flops, spherenet


def expected_parameters(depth, embedding=512):
    """Counted from the architecture: per stage a stride-2 3×3 conv with bias and a
    per-channel PReLU, then 2 bias-free 3×3 convs + 2 PReLUs per residual unit; FC1 from
    the 7×6×512 map of a 112×96 input (four halvings: 112→7, 96→6)."""
    total, c_in = 0, 3
    for units, c in zip(UNITS[depth], WIDTHS):
        total += 9 * c_in * c + c + c
        total += units * 2 * (9 * c * c + c)
        c_in = c
    return total + 7 * 6 * 512 * embedding + embedding


@pytest.mark.core
@pytest.mark.parametrize("depth", [4, 10, 20, 36, 64])
def test_depth_and_parameter_count(depth):
    model = spherenet(depth)
    # The paper's depth counts conv layers: 4 stride-2 convs + 2 per residual unit.
    assert conv_layer_count(model) == depth
    assert model.count_params() == expected_parameters(depth)
    assert model.output.shape[-1] == 512


@pytest.mark.core
def test_spherenet20_numbers():
    model = spherenet(20)
    # Stage by stage: 1,856 + 73,856 + 73,984 + 590,336 + 295,424 + 4,720,640
    # + 1,180,672 + 4,719,616 + FC1 11,010,560 = 22,666,944.
    assert model.count_params() == 22_666_944
    # ≈ 3.5 GFLOP per 112×96 image, the figure quoted for SphereFace-20.
    assert forward_flops(model) == pytest.approx(3.4995e9, rel=1e-4)
    assert [layer.name for layer in model.layers if "res" in layer.name] == [
        "res1_1", "res2_1", "res2_2", "res3_1", "res3_2", "res3_3", "res3_4", "res4_1",
    ]


def test_bad_depth():
    with pytest.raises(ValueError, match=r"`depth` must be one of \[4, 10, 20, 36, 64\]"):
        spherenet(18)


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
