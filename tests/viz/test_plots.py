"""Plots take arrays and return figures."""


import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from sphereface_tf.viz.plots import (
    opposite_view,
    plot_angle_histograms,
    plot_comparison,
    plot_features_2d,
    plot_history,
    plot_psi,
    plot_sphere,
    sphere_figure,
)
from sphereface_tf.viz.stats import angle_statistics


def _embedding(dim, n=200, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centers = rng.normal(size=(classes, dim))
    features = centers[labels] * 5 + rng.normal(size=(n, dim))
    return features, labels, centers.T


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_features_2d_has_raw_and_circle_panels():
    f, y, w = _embedding(2)
    fig = plot_features_2d(f, y, w, ["a", "b", "c", "d"], title="t")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    raw, circle = fig.axes
    assert len(raw.collections) == 4  # one scatter per class
    assert len(raw.lines) >= 4  # weight directions (plus axis lines)


def _strong_points(ax):
    """Points an axes draws strongly: the labelled (near-side) scatters of plot_sphere."""
    return sum(len(c._offsets3d[0]) for c in ax.collections if not c.get_label().startswith("_"))


def test_plot_sphere_front_and_back_show_every_point_once():
    f, y, w = _embedding(3)
    fig = plot_sphere(f, y, w, title="t")
    assert [ax.name for ax in fig.axes] == ["3d", "3d"]
    front, back = fig.axes
    assert (back.elev, back.azim) == opposite_view(front.elev, front.azim) != (front.elev, front.azim)
    assert 0 < _strong_points(front) < len(f)
    assert _strong_points(front) + _strong_points(back) == len(f)  # each point strong in exactly one view
    assert fig.legends and len(fig.legends[0].get_texts()) == 4  # one shared class legend
    big = plot_sphere(*_embedding(3, n=20000)).legends[0]  # scatter dots shrink with N, legend dots do not
    assert [list(h.get_sizes()) for h in big.legend_handles] == [[30]] * 4
    single = plt.figure().add_subplot(projection="3d")
    plot_sphere(f, y, w, ax=single, elev=10, azim=-60)
    assert (single.elev, single.azim) == (10, -60) and _strong_points(single) < len(f)


def test_interactive_sphere_trace_count():
    f, y, w = _embedding(3)
    interactive = sphere_figure(f, y, w, ["a", "b", "c", "d"])
    assert len(interactive.data) == 2 * 4 + 1
    assert [t.name for t in interactive.data[1:5]] == ["a", "b", "c", "d"]
    assert len(sphere_figure(f, y).data) == 4 + 1


def test_wrong_dimension_is_rejected():
    f, y, w = _embedding(3)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_features_2d(f, y, w)
    with pytest.raises(ValueError, match="labels"):
        plot_sphere(f, y[:-1], w)


@pytest.mark.parametrize("dim", [2, 3])
def test_plot_comparison(dim):
    results = {name: (*_embedding(dim, seed=k), f"acc {k}") for k, name in enumerate(["original", "modified", "angular"])}
    fig = plot_comparison(results)
    assert len(fig.axes) == 6  # 2-D: raw and circle; 3-D: front and back, per variant


def test_plot_history_and_histograms():
    history = {"accuracy": [0.5, 0.8], "val_accuracy": [0.6, 0.85], "loss": [1.0, 0.4], "val_loss": [0.9, 0.5]}
    fig = plot_history({"angular": history, "modified": history})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    stats = angle_statistics(*_embedding(3)[:2])
    fig = plot_angle_histograms({"angular": stats["histogram"], "modified": stats["histogram"]})
    assert len(fig.axes) == 2


def test_plot_psi():
    fig = plot_psi((1, 2, 4))
    assert len(fig.axes[0].get_legend().get_texts()) == 3


# ------------------------------------------------------- decision boundaries
def _ten_classes(seed=0, n=300):
    """Features around ten uneven directions, weights of uneven lengths (the demo's shape)."""
    rng = np.random.default_rng(seed)
    phi = np.radians(np.arange(10) * 36.0 + rng.normal(0, 6, 10))
    labels = np.arange(n) % 10
    angle = phi[labels] + rng.normal(0, 0.08, n)
    radius = rng.uniform(5, 50, n)[:, None]
    weights = np.stack([np.cos(phi), np.sin(phi)]) * rng.uniform(0.5, 2.0, 10)
    return np.stack([np.cos(angle), np.sin(angle)], 1) * radius, labels, weights, rng.normal(0, 2, 10)


def _boundary_lines(ax):
    """gid → (x, y) of the boundary lines an axes draws."""
    return {line.get_gid(): (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
            for line in ax.lines if (line.get_gid() or "").startswith("boundary")}


def _ray_angle(xy):
    x, y = xy
    return np.arctan2(y[-1], x[-1])


def _theta(angle, w):
    return np.arccos(np.clip(np.cos(angle) * w[0] / np.linalg.norm(w) + np.sin(angle) * w[1] / np.linalg.norm(w), -1, 1))


@pytest.mark.parametrize("lam", [0.0, 5.0])
def test_angular_boundaries_are_drawn_where_the_training_target_ties(lam):
    from tests.reference import psi_ref

    f, y, w, _ = _ten_classes()
    fig = plot_features_2d(f, y, w, boundaries=dict(variant="angular", m=4, lam=lam, lam_note="training's final λ"))
    raw, circle = fig.axes
    for ax in (raw, circle):
        lines = _boundary_lines(ax)
        assert len(lines) == 20  # two per neighbour pair, the wrap-around pair included
        assert {tuple(map(int, gid.split()[1].split("-"))) for gid in lines} == {
            (int(a), int(b)) for a, b in zip(np.argsort(np.arctan2(w[1], w[0])), np.roll(np.argsort(np.arctan2(w[1], w[0])), -1))}
        for gid, xy in lines.items():
            pair, side = gid.split()[1:]
            i, j = map(int, pair.split("-"))
            me, rival = (i, j) if side == "i" else (j, i)
            angle = _ray_angle(xy)
            theta, theta_rival = _theta(angle, w[:, me]), _theta(angle, w[:, rival])
            # the head's target for the class whose boundary it is equals the rival's cosine
            assert (lam * np.cos(theta) + psi_ref(theta, 4)) / (1 + lam) == pytest.approx(np.cos(theta_rival), abs=1e-9)
            assert theta < theta_rival  # on its own class's side of the bisector
            # a ray from the origin
            assert np.allclose(np.cross(np.stack(xy, 1)[0], np.stack(xy, 1)[-1]), 0, atol=1e-9)
    wedges = [p for p in circle.patches if (p.get_gid() or "").startswith("margin")]
    assert len(wedges) == 10
    title = circle.get_title()
    assert f"λ = {lam:g}" in title and "m = 4" in title
    assert ("training's final λ" in title) == (lam > 0)


def test_modified_bisectors_and_original_segments_in_the_figure():
    f, y, w, bias = _ten_classes(1)
    fig = plot_features_2d(f, y, w, boundaries=dict(variant="modified"))
    for ax in fig.axes:
        lines = _boundary_lines(ax)
        assert len(lines) == 10 and all(gid.endswith("bisector") for gid in lines)
        for gid, xy in lines.items():
            i, j = map(int, gid.split()[1].split("-"))
            assert _theta(_ray_angle(xy), w[:, i]) == pytest.approx(_theta(_ray_angle(xy), w[:, j]), abs=1e-9)
    assert not [p for p in fig.axes[1].patches if (p.get_gid() or "").startswith("margin")]  # no margin

    fig = plot_features_2d(f, y, w, boundaries=dict(variant="original", bias=bias))
    raw, circle = fig.axes
    lines = _boundary_lines(raw)
    assert lines and not _boundary_lines(circle)  # not angular: drawn on the plane only
    x0, x1 = raw.get_xlim()
    for gid, (xs, ys) in lines.items():
        i, j = map(int, gid.split()[1].split("-"))
        points = np.stack([xs, ys], 1)
        points = points[0] + np.linspace(0, 1, 11)[:, None] * (points[-1] - points[0])
        z = points @ w + bias
        np.testing.assert_allclose(z[:, i], z[:, j], atol=1e-9 * np.abs(z).max())
        top2 = np.sort(np.argsort(z, axis=1)[:, -2:], axis=1)
        ends_tie = np.sort(z, axis=1)[:, -3] > z[:, i] - 1e-9 * np.abs(z).max()  # a triple point at an end
        assert np.all((top2 == sorted((i, j))).all(axis=1) | ends_tie)
        assert np.all((points >= x0 - 1e-9) & (points <= x1 + 1e-9))  # clipped to the panel


def test_plot_comparison_draws_each_variants_boundaries():
    f, y, w, bias = _ten_classes(2)
    results = {v: (f, y, w, "acc") for v in ("original", "modified", "angular")}
    fig = plot_comparison(results, boundaries={
        "original": dict(variant="original", bias=bias), "angular": dict(variant="angular", m=4, lam=5.0)})
    raw = fig.axes[:3]
    assert _boundary_lines(raw[0]) and not _boundary_lines(raw[1]) and len(_boundary_lines(raw[2])) == 20
    assert "λ = 5" in fig.axes[5].get_title()
    with pytest.raises(ValueError, match="2-D"):
        plot_comparison({"angular": (*_embedding(3)[:3], "acc")}, boundaries={"angular": dict(variant="angular", m=4)})
    with pytest.raises(ValueError, match="weights"):
        plot_features_2d(f, y, boundaries=dict(variant="modified"))
