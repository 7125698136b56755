"""The decision boundaries drawn on the 2-D plots, against the paper's formulas (float64, tests/reference.py)."""

import numpy as np
import pytest

from sphereface_tf.viz.boundaries import (
    BoundarySpec,
    angular_boundaries,
    as_spec,
    margin_offset,
    neighbour_arcs,
    original_boundaries,
    psi,
    target_cos,
)
from tests.reference import psi_ref

DELTAS = (0.05, 0.3, np.radians(36), 1.0, 2.0, 3.0, np.pi)


def target_ref(theta, m, lam):
    """The head's λ-blended target of the reference: (λ cos θ + ψ(θ)) / (1 + λ)."""
    return (lam * np.cos(theta) + psi_ref(theta, m)) / (1.0 + lam)


def directions(degrees, lengths=None):
    phi = np.radians(np.asarray(degrees, dtype=np.float64))
    lengths = np.ones_like(phi) if lengths is None else np.asarray(lengths, dtype=np.float64)
    return np.stack([np.cos(phi), np.sin(phi)]) * lengths


def angle_between(direction, weight):
    u = np.array([np.cos(direction), np.sin(direction)])
    return np.arccos(np.clip(u @ weight / np.linalg.norm(weight), -1.0, 1.0))


def test_psi_is_the_papers():
    theta = np.linspace(0.0, np.pi, 2001)
    for m in range(1, 7):
        np.testing.assert_allclose(psi(theta, m), psi_ref(theta, m), atol=1e-12)
        np.testing.assert_allclose(target_cos(theta, m, 5.0), target_ref(theta, m, 5.0), atol=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("delta", DELTAS)
def test_paper_boundary_at_delta_over_m_plus_one(m, delta):
    """λ = 0: cos mθᵢ = cos(Δ − θᵢ) at θᵢ = Δ/(m+1), on both sides of the arc."""
    assert margin_offset(delta, m, 0.0) == pytest.approx(delta / (m + 1), abs=1e-12)
    start = 0.4
    weights = directions(np.degrees([start, start + delta, start + delta + 2.5]))
    b = next(b for b in angular_boundaries(weights, m, 0.0) if (b.i, b.j) == (0, 1))
    assert b.width == pytest.approx(delta, abs=1e-12)
    assert b.angle_i - start == pytest.approx(delta / (m + 1), abs=1e-12)
    assert start + delta - b.angle_j == pytest.approx(delta / (m + 1), abs=1e-12)
    assert b.margin == pytest.approx(delta * (m - 1) / (m + 1), abs=1e-12)  # m = 1: no margin
    # the paper's equations, with angles read off the directions
    theta_i, theta_j = angle_between(b.angle_i, weights[:, 0]), angle_between(b.angle_i, weights[:, 1])
    assert np.cos(m * theta_i) == pytest.approx(np.cos(theta_j), abs=1e-9)
    theta_i, theta_j = angle_between(b.angle_j, weights[:, 0]), angle_between(b.angle_j, weights[:, 1])
    assert np.cos(m * theta_j) == pytest.approx(np.cos(theta_i), abs=1e-9)


@pytest.mark.parametrize("m", [2, 3, 4, 6])
@pytest.mark.parametrize("lam", [0.1, 1.0, 5.0, 50.0, 1000.0])
@pytest.mark.parametrize("delta", DELTAS)
def test_blended_boundary_solves_the_training_target(m, lam, delta):
    """λ > 0: (λ cos θᵢ + ψ(θᵢ))/(1 + λ) = cos(Δ − θᵢ), the root nearest Wᵢ."""
    theta = margin_offset(delta, m, lam)
    assert 0.0 < theta < delta / 2
    assert abs(target_ref(theta, m, lam) - np.cos(delta - theta)) < 1e-9
    before = np.linspace(0.0, theta, 200, endpoint=False)
    assert np.all(target_ref(before, m, lam) > np.cos(delta - before))  # class i wins with margin up to it
    after = np.linspace(theta, delta / 2, 200)[1:]
    assert np.all(target_ref(after, m, lam) < np.cos(delta - after))  # and nowhere after it on the arc


def test_boundary_moves_toward_the_weight_as_m_grows_and_away_as_lambda_grows():
    for delta in (0.3, 1.0, 2.5):
        for lam in (0.0, 5.0):
            offsets = [margin_offset(delta, m, lam) for m in range(1, 7)]
            assert np.all(np.diff(offsets) < 0), offsets
            assert offsets[0] == delta / 2  # m = 1: the bisector
        offsets = [margin_offset(delta, 4, lam) for lam in (0.0, 0.5, 1.0, 5.0, 50.0, 1e6)]
        assert np.all(np.diff(offsets) > 0), offsets
        assert offsets[0] == pytest.approx(delta / 5, abs=1e-12)
        assert offsets[-1] == pytest.approx(delta / 2, abs=1e-5)  # λ → ∞: the modified softmax


def test_modified_boundaries_are_the_bisectors():
    rng = np.random.default_rng(3)
    weights = directions(rng.uniform(-180, 180, 7), rng.uniform(0.2, 5.0, 7))  # lengths do not matter
    for b in angular_boundaries(weights, m=1):
        assert b.angle_i == b.angle_j == pytest.approx(b.start + b.width / 2, abs=1e-12)
        assert b.margin == 0 and b.real_i and b.real_j
        assert angle_between(b.angle_i, weights[:, b.i]) == pytest.approx(angle_between(b.angle_i, weights[:, b.j]), abs=1e-9)


def test_neighbours_go_round_the_circle_including_the_wraparound_pair():
    weights = directions([170, -170, 10, 90])  # atan2 order: 1 (−170°), 2, 3, 0 (170°)
    arcs = neighbour_arcs(weights)
    assert [(i, j) for i, j, _, _ in arcs] == [(1, 2), (2, 3), (3, 0), (0, 1)]
    assert dict(((i, j), w) for i, j, _, w in arcs)[(0, 1)] == pytest.approx(np.radians(20))  # 170° → 190°
    assert sum(w for *_, w in arcs) == pytest.approx(2 * np.pi)
    wrap = next(b for b in angular_boundaries(weights, m=4) if (b.i, b.j) == (0, 1))
    assert np.degrees(wrap.angle_i) == pytest.approx(174.0) and np.degrees(wrap.angle_j) == pytest.approx(186.0)
    # two classes: both arcs, one each way round
    assert [(i, j) for i, j, _, _ in neighbour_arcs(directions([0, 100]))] == [(0, 1), (1, 0)]


def test_wide_arcs():
    """Two weights 100° apart: the other arc is 260° wide; θ from either weight stays below Δ/2 < π."""
    weights = directions([0, 100])
    narrow, wide = angular_boundaries(weights, m=4)
    assert np.degrees(narrow.offset) == pytest.approx(20.0)
    assert wide.width == pytest.approx(np.radians(260))
    # on the wide side the way to Wⱼ round the other side is shorter: cos 4θ = cos(260° − θ) = cos(100° + θ)
    assert np.degrees(wide.offset) == pytest.approx(100.0 / 3)
    theta_i, theta_j = angle_between(wide.angle_i, weights[:, 1]), angle_between(wide.angle_i, weights[:, 0])
    assert psi_ref(theta_i, 4) == pytest.approx(np.cos(theta_j), abs=1e-9)
    assert wide.real_i and wide.real_j
    for m, lam in ((2, 0.0), (3, 1.0), (4, 5.0)):
        for width in np.radians([181, 200, 250, 300, 359]):
            theta = margin_offset(width, m, lam)
            assert 0 < theta < width / 2
            assert abs(target_ref(theta, m, lam) - np.cos(width - theta)) < 1e-9
            before = np.linspace(0.0, theta, 500, endpoint=False)
            assert np.all(target_ref(before, m, lam) > np.cos(width - before))


def test_a_boundary_is_real_only_where_its_neighbour_is_the_strongest_rival():
    # classes at 0°, 5°, 60°: class 1's A-Softmax boundary toward 2 lies at 5° + 55°/5 = 16°, where
    # class 0 (16° away) beats class 2 (44° away); class 2's boundary at 49° does face class 1
    b = next(b for b in angular_boundaries(directions([0, 5, 60]), m=4) if (b.i, b.j) == (1, 2))
    assert np.degrees(b.angle_i) == pytest.approx(16.0) and np.degrees(b.angle_j) == pytest.approx(49.0)
    assert not b.real_i and b.real_j
    assert all(b.real_i and b.real_j for b in angular_boundaries(directions(np.arange(10) * 36.0 + 7), m=4, lam=5))


def _logits(points, weights, bias):
    return np.asarray(points) @ weights + bias


def test_original_segments_are_real_boundaries_clipped_to_the_box():
    rng = np.random.default_rng(0)
    box = (-4.0, 5.0, -3.0, 6.0)
    for trial in range(20):
        c = int(rng.integers(2, 9))
        weights, bias = rng.normal(size=(2, c)) * rng.uniform(0.3, 3.0), rng.normal(size=c)
        segments = original_boundaries(weights, bias, box)
        for seg in segments:
            assert seg.i < seg.j
            points = seg.start + np.linspace(0, 1, 21)[:, None] * (seg.end - seg.start)
            assert np.all(points[:, 0] >= box[0] - 1e-9) and np.all(points[:, 0] <= box[1] + 1e-9)
            assert np.all(points[:, 1] >= box[2] - 1e-9) and np.all(points[:, 1] <= box[3] + 1e-9)
            z = _logits(points, weights, bias)
            scale = 1e-9 * max(1.0, np.abs(z).max())
            np.testing.assert_allclose(z[:, seg.i], z[:, seg.j], atol=scale)
            others = np.delete(z, [seg.i, seg.j], axis=1)
            if others.size:
                assert np.all(z[:, seg.i] >= others.max(axis=1) - scale)  # i and j are the two largest
                # and strictly inside the segment no third class ties (the ends may be triple points)
                assert np.all(z[1:-1, seg.i] > others[1:-1].max(axis=1) - scale)
            for end in (seg.start, seg.end):  # each end is on the box's edge or where a third class ties
                on_edge = min(abs(end[0] - box[0]), abs(end[0] - box[1]), abs(end[1] - box[2]), abs(end[1] - box[3])) < 1e-9
                z_end = _logits(end, weights, bias)
                triple = others.size and np.abs(np.delete(z_end, [seg.i, seg.j]) - z_end[seg.i]).min() < 1e-7 * max(1, np.abs(z_end).max())
                assert on_edge or triple
        # and every boundary of the picture is found: where the winning class changes on a fine grid,
        # a returned segment passes within a few grid steps (a third class may cut the corner between the cells)
        xs, ys = np.meshgrid(np.linspace(box[0], box[1], 181), np.linspace(box[2], box[3], 181))
        winner = np.argmax(_logits(np.stack([xs, ys], -1), weights, bias), axis=-1)
        changes = np.argwhere(winner[:, 1:] != winner[:, :-1])
        step = (box[1] - box[0]) / 180
        for row, col in changes[:: max(1, len(changes) // 60)]:
            p = np.array([xs[row, col], ys[row, col]])
            pair = tuple(sorted((winner[row, col], winner[row, col + 1])))
            near = [_distance_to_segment(p, s) for s in segments if (s.i, s.j) == pair]
            assert near and min(near) <= 3 * step, (trial, pair)


def _distance_to_segment(p, seg):
    d = seg.end - seg.start
    t = np.clip((p - seg.start) @ d / (d @ d), 0, 1)
    return np.linalg.norm(seg.start + t * d - p)


def test_original_with_symmetric_weights_gives_the_neighbour_rays_wraparound_included():
    weights = directions(np.arange(6) * 60.0 + 30, lengths=2.0)
    segments = original_boundaries(weights, np.zeros(6), (-3, 3, -3, 3))
    assert sorted((s.i, s.j) for s in segments) == [(0, 1), (0, 5), (1, 2), (2, 3), (3, 4), (4, 5)]
    for s in segments:  # rays from the origin along the bisectors
        near, far = sorted((s.start, s.end), key=np.linalg.norm)
        assert np.linalg.norm(near) < 1e-9
        expected = np.radians(60.0 * s.j if (s.i, s.j) != (0, 5) else 0.0)
        assert np.cos(np.arctan2(far[1], far[0]) - expected) == pytest.approx(1.0, abs=1e-12)


def test_degenerate_inputs_are_clear_errors():
    good = directions([0, 90, 200])
    for weights, match in (
        (np.ones((3, 4)), r"\(2, C\)"), (np.ones((2, 1)), r"C >= 2"), (np.array([[1.0, np.nan], [0, 1]]), "finite"),
        (np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), "zero"), (directions([10, 10, 90]), "same way"),
        (np.array([[1.0, 2.0], [1.0, 2.0]]), "same way"),
    ):
        with pytest.raises(ValueError, match=match):
            angular_boundaries(weights, m=4)
    for m, lam in ((0, 0.0), (2.5, 0.0), (True, 0.0), (4, -1.0), (4, np.inf), (4, np.nan)):
        with pytest.raises(ValueError, match="m must|lam must"):
            angular_boundaries(good, m=m, lam=lam)
    for width in (0.0, 2 * np.pi, -1.0, np.nan):
        with pytest.raises(ValueError, match="arc"):
            margin_offset(width, 4)
    with pytest.raises(ValueError, match="bias"):
        original_boundaries(good, np.zeros(2), (-1, 1, -1, 1))
    with pytest.raises(ValueError, match="box"):
        original_boundaries(good, None, (1, -1, -1, 1))
    # original: a zero weight is a constant logit, fine; two equal weights have no line between them
    assert original_boundaries(np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]), [0.0, 0.0, -0.5], (-2, 2, -2, 2))
    for bad, match in ((dict(variant="adacos"), "variant must be one of"), (dict(variant="modified", m=4), "needs variant"),
                       (dict(variant="modified", bias=[0, 0]), "bias"), (dict(variant="angular", m=4, lam=-2), "lam")):
        with pytest.raises(ValueError, match=match):
            as_spec(bad)
    with pytest.raises(ValueError, match="BoundarySpec"):
        as_spec("angular")
    assert as_spec(dict(variant="angular", m=4, lam=5)) == BoundarySpec("angular", 4, 5.0)


# ------------------------------------------------------------- the scaled family
def family_ref(theta, variant, margin):
    """The scaled variants' target ÷ s, from tests/reference.py's head formula at one class."""
    from tests.reference import scaled_head_ref

    theta = np.atleast_1d(np.asarray(theta, np.float64))
    x = np.stack([np.cos(theta), np.sin(theta)], 1)
    return scaled_head_ref(x, np.eye(2), np.zeros(len(x), int), variant=variant, scale=1.0, margin=margin)[:, 0]


@pytest.mark.parametrize("variant, margin", [("cosface", 0.35), ("cosface", 0.1), ("arcface", 0.5), ("arcface", 0.2),
                                             ("sphereface_r", 1.5), ("sphereface_r", 3.0)])
@pytest.mark.parametrize("delta", DELTAS)
def test_a_scaled_variants_boundary_is_where_its_target_ties_the_rivals_cosine(variant, margin, delta):
    spec = BoundarySpec(variant, margin=margin)
    offset = margin_offset(delta, 1, target=spec.target())
    assert 0.0 <= offset <= delta / 2 + 1e-12
    if family_ref(0.0, variant, margin)[0] <= np.cos(delta):  # even at Wᵢ the margin is not met: no room on the arc
        assert offset == 0.0
    else:
        assert family_ref(offset, variant, margin)[0] == pytest.approx(np.cos(delta - offset), abs=1e-9)
    if variant == "arcface":  # cos(θ + M) = cos(Δ − θ): θ = (Δ − M) / 2
        assert offset == pytest.approx(max(delta - margin, 0.0) / 2, abs=1e-9)


def test_normface_draws_bisectors_and_the_margined_family_a_wedge():
    w = directions([0, 60, 150, 250])
    bisectors = angular_boundaries(w, target=BoundarySpec("normface").target())
    assert all(b.margin == 0 and b.offset == pytest.approx(b.width / 2) for b in bisectors)
    cos = angular_boundaries(w, target=BoundarySpec("cosface", margin=0.35).target())
    assert all(0 < b.margin < b.width for b in cos)
    tight = angular_boundaries(directions([0, 20, 40]), target=BoundarySpec("cosface", margin=0.35).target())
    narrow = [b for b in tight if b.width < np.radians(30)]  # 20° arcs: 1 − 0.35 < cos 20°, no point meets the margin
    assert narrow and all(b.offset == 0.0 and b.margin == pytest.approx(b.width) for b in narrow)


def test_a_margined_spec_needs_its_margin_and_only_it_has_one():
    with pytest.raises(ValueError, match="margin is given for cosface, arcface, sphereface_r and only for them"):
        BoundarySpec("cosface")
    with pytest.raises(ValueError, match="only for them"):
        BoundarySpec("angular", m=4, margin=0.3)
    with pytest.raises(ValueError, match="margin of 'sphereface_r' must be finite and >= 1"):
        BoundarySpec("sphereface_r", margin=0.5)
    assert as_spec(dict(variant="arcface", margin=0.5)).target()(np.array([0.0]))[0] == pytest.approx(np.cos(0.5))
