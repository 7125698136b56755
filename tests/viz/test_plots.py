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
