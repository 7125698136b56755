"""Figures. Every function takes arrays and returns a figure; nothing here trains."""

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import patheffects  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from sphereface_tf.margin import psi  # noqa: E402
from sphereface_tf.angles import unit_rows  # noqa: E402
from sphereface_tf.viz.boundaries import angular_boundaries, as_spec, original_boundaries  # noqa: E402


def plot_psi(margins=(1, 2, 3, 4), num=721):
    """ψ(θ) of A-Softmax for each m over θ ∈ [0, π], with cos θ for reference."""
    theta = np.linspace(0.0, np.pi, num)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(margins)))
    for m, color in zip(margins, colors):
        values = np.asarray(ops.convert_to_numpy(psi(ops.convert_to_tensor(np.cos(theta)), m)))
        label = "m = 1  (cos θ: modified softmax)" if m == 1 else f"m = {m}"
        ax.plot(np.degrees(theta), values, color=color, lw=2, label=label)
        for k in range(1, m):
            ax.plot(np.degrees(k * np.pi / m), 1 - 2 * k, "o", color=color, ms=3.5)
    ax.set_xlabel("θ (degrees) between feature and target class weight")
    ax.set_ylabel("ψ(θ) = (−1)ᵏ cos(mθ) − 2k")
    ax.set_xticks(np.arange(0, 181, 30))
    ax.set_xlim(0, 180)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title("A-Softmax target function; dots: piece boundaries θ = kπ/m")
    return fig


# --------------------------------------------------------------- embeddings
def class_colors(num_classes):
    cmap = plt.get_cmap("tab10" if num_classes <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(num_classes)]


def _check_embedding(features, labels, weights, class_names, dim):
    """Validated arrays, the number of classes and their display names."""
    features, labels = np.asarray(features), np.asarray(labels).astype(int)
    weights = None if weights is None else np.asarray(weights)
    if features.ndim != 2 or features.shape[1] != dim:
        raise ValueError(f"expected ({dim})-D features of shape (N, {dim}), got {features.shape}")
    if len(labels) != len(features):
        raise ValueError(f"{len(labels)} labels for {len(features)} features")
    if weights is not None and weights.shape[0] != dim:
        raise ValueError(f"class weights must have shape ({dim}, C), got {weights.shape}")
    num_classes = int(max(labels.max() + 1, 0 if weights is None else weights.shape[1]))
    names = class_names or [str(c) for c in range(num_classes)]
    return features, labels, weights, num_classes, names


def plot_features_2d(features, labels, weights=None, class_names=None, title=None, axes=None, boundaries=None):
    """2-D features: raw (left) and normalised onto the unit circle (right).

    Class weight directions W_j are drawn as lines from the origin in the class
    colour. With `boundaries` (a `viz.boundaries.BoundarySpec` or a dict of its fields:
    variant, m, lam, bias, lam_note) and the weights, the decision boundaries between
    neighbouring classes are drawn as thin dark lines (see `viz.boundaries`): the
    original softmax's line segments on the plane, the modified softmax's bisectors and
    the A-Softmax boundary pairs as rays on both panels, the A-Softmax margin shaded.
    Returns the figure (a new one unless `axes`, a pair, is given).
    """
    features, labels, weights, num_classes, names = _check_embedding(features, labels, weights, class_names, 2)
    spec = as_spec(boundaries)
    if spec is not None and weights is None:
        raise ValueError("drawing decision boundaries needs the class weights")
    colors = class_colors(num_classes)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
    fig = axes[0].figure
    raw_ax, circle_ax = axes
    unit = unit_rows(features)
    # radial jitter on the circle so the density of each class stays visible
    jitter = 1.0 + np.random.default_rng(0).uniform(-0.06, 0.06, len(unit))[:, None]
    extent = np.percentile(np.abs(features), 99.5) * 1.1 or 1.0
    size = max(1.0, min(8.0, 4000.0 / len(features)))
    for c in range(num_classes):
        members = labels == c
        raw_ax.scatter(*features[members].T, s=size, color=colors[c], alpha=0.6, lw=0, label=names[c], rasterized=True)
        circle_ax.scatter(*(unit[members] * jitter[members]).T, s=size, color=colors[c], alpha=0.5, lw=0, rasterized=True)
    circle_ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.6", lw=0.8))
    if weights is not None:
        w_unit = unit_rows(weights.T)
        for c in range(weights.shape[1]):
            for ax, length in ((raw_ax, extent), (circle_ax, 1.25)):
                ax.plot([0, w_unit[c, 0] * length], [0, w_unit[c, 1] * length], color=colors[c], lw=1.6,
                        path_effects=_outline())
            circle_ax.text(*(w_unit[c] * 1.36), names[c], color=colors[c], ha="center", va="center",
                           fontsize=8, fontweight="bold", path_effects=_outline())
    if spec is not None:
        _draw_boundaries(raw_ax, circle_ax, weights, spec, extent)
    raw_ax.set_xlim(-extent, extent)
    raw_ax.set_ylim(-extent, extent)
    circle_ax.set_xlim(-1.5, 1.5)
    circle_ax.set_ylim(-1.5, 1.5)
    for ax in axes:
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.6, zorder=0)
        ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    raw_ax.set_title("features x (lines: class weights $W_j$)", fontsize=10)
    circle_ax.set_title("angles: x / ‖x‖ on the unit circle", fontsize=10)
    if spec is not None:
        circle_ax.set_title("x / ‖x‖ on the unit circle\n" + boundary_caption(spec), fontsize=9)
    circle_ax.set_xticks([])
    circle_ax.set_yticks([])
    _uniform_markers(raw_ax.legend(fontsize=7, frameon=False, loc="upper left", ncols=2), size=16)
    if title:
        fig.suptitle(title)
    return fig


BOUNDARY_COLOR = "0.15"
MARGIN_COLOR = "0.55"


def boundary_caption(spec):
    """Two short lines saying which boundaries a panel draws (and, for A-Softmax, at which λ)."""
    spec = as_spec(spec)
    if spec.variant == "original":
        return "dark lines (on the plane): decision boundaries\n(Wᵢ − Wⱼ)·x + bᵢ − bⱼ = 0 where i, j lead"
    if spec.variant in ("modified", "normface") or spec.variant == "angular" and spec.m == 1:
        return "dark lines: decision boundaries θᵢ = θⱼ (bisectors)"
    if spec.variant == "cosface":
        return f"CosFace M = {spec.margin:g}: boundaries\ncos θᵢ − M = cos θⱼ and cos θⱼ − M = cos θᵢ; shaded: margin"
    if spec.variant == "arcface":
        return f"ArcFace M = {spec.margin:g} rad: boundaries\nθᵢ + M = θⱼ and θⱼ + M = θᵢ; shaded: margin"
    if spec.variant == "sphereface_r":
        return f"SphereFace-R m = {spec.margin:g}: boundaries\nψ(θᵢ) = cos θⱼ and ψ(θⱼ) = cos θᵢ; shaded: margin"
    if spec.lam == 0:
        return f"A-Softmax m = {spec.m}, λ = 0 (the paper): boundaries\ncos {spec.m}θᵢ = cos θⱼ and cos {spec.m}θⱼ = cos θᵢ; shaded: margin"
    note = f" ({spec.lam_note})" if spec.lam_note else ""
    return (f"A-Softmax m = {spec.m}, boundaries at λ = {spec.lam:.3g}{note}:\n"
            "(λ cos θᵢ + ψ(θᵢ)) / (1 + λ) = cos θⱼ; shaded: margin")


def _draw_boundaries(raw_ax, circle_ax, weights, spec, extent):
    """The decision boundaries of `spec` into both panels; lines carry gid 'boundary i-j side'."""
    line = dict(color=BOUNDARY_COLOR, lw=0.8, alpha=0.85, zorder=1.5, solid_capstyle="butt")
    if spec.variant == "original":
        for b in original_boundaries(weights, spec.bias, (-extent, extent, -extent, extent)):
            raw_ax.plot(*np.stack([b.start, b.end]).T, gid=f"boundary {b.i}-{b.j} line", **line)
        return
    reach = extent * 1.5  # rays leave the square plane panel
    inner = 0.3  # on the circle, rays start off the centre, where all weight lines meet
    for b in angular_boundaries(weights, target=spec.target()):  # None: the bisectors
        rays = [("bisector", b.angle_i, b.real_i and b.real_j)] if b.margin == 0 else [
            ("i", b.angle_i, b.real_i), ("j", b.angle_j, b.real_j)]
        for side, angle, real in rays:
            if not real:
                continue
            direction = np.array([np.cos(angle), np.sin(angle)])
            for ax, (r0, r1) in ((raw_ax, (0.0, reach)), (circle_ax, (inner, 1.12))):
                ax.plot(direction[0] * np.array([r0, r1]), direction[1] * np.array([r0, r1]),
                        gid=f"boundary {b.i}-{b.j} {side}", **line)
        if b.margin > 0 and b.real_i and b.real_j:
            theta1, theta2 = np.degrees(b.angle_i), np.degrees(b.angle_j)
            for ax, radius, width, alpha in ((circle_ax, 1.0, 1.0 - inner, 0.22), (raw_ax, reach, None, 0.12)):
                ax.add_patch(matplotlib.patches.Wedge((0, 0), radius, theta1, theta2, width=width, facecolor=MARGIN_COLOR,
                                                      edgecolor="none", alpha=alpha, zorder=0.5,
                                                      gid=f"margin {b.i}-{b.j}"))


def _outline():

    return [patheffects.withStroke(linewidth=2.6, foreground="white")]


SPHERE_VIEW = (22, 35)  # default camera (elevation, azimuth) in degrees


def opposite_view(elev, azim):
    """The camera angles that look at the sphere from exactly the other side."""
    return -elev, (azim + 180) % 360


def _front_and_back(elev, azim):
    return (elev, azim), opposite_view(elev, azim)


def plot_sphere(features, labels, weights=None, class_names=None, title=None, ax=None, elev=SPHERE_VIEW[0], azim=SPHERE_VIEW[1], legend=True):
    """3-D features normalised onto the unit sphere (static matplotlib views).

    Without `ax`, a new figure shows the sphere from two opposite sides —
    (elev, azim) and `opposite_view(elev, azim)` — so that every feature and
    class weight is drawn strongly in exactly one of them (a single view hides
    half the sphere). With `ax` (one 3-D axes), one view is drawn into it.
    `legend=False` leaves the legend to the caller (e.g. one for several spheres).
    """
    features, labels, weights, num_classes, names = _check_embedding(features, labels, weights, class_names, 3)
    if ax is not None:
        _draw_sphere(ax, features, labels, weights, names, elev, azim)
        if legend:
            _uniform_markers(ax.legend(fontsize=8, frameon=False, loc="lower left", ncols=2,
                                       title=SPHERE_LEGEND_TITLE, title_fontsize=7))
        if title:
            ax.set_title(title, fontsize=10)
        return ax.figure
    fig = plt.figure(figsize=(11.5, 5.6), constrained_layout=True)
    for k, (el, az) in enumerate(_front_and_back(elev, azim)):
        view_ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        _draw_sphere(view_ax, features, labels, weights, names, el, az)
        view_ax.set_title(SIDE_TITLES[k], fontsize=10)
    if legend:
        _shared_class_legend(fig, view_ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


SIDE_TITLES = ("front", "back (the other hemisphere)")
SPHERE_LEGEND_TITLE = "faint: far side; dotted: W behind"


def _shared_class_legend(fig, ax):
    """One legend of the classes under all sphere views (their handles are the same)."""
    handles, labels = ax.get_legend_handles_labels()
    legend = fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9,
                        frameon=False, title=SPHERE_LEGEND_TITLE, title_fontsize=8)
    _uniform_markers(legend)


def _uniform_markers(legend, size=30):
    """Legend dots of one readable size, however small the scatter points (they shrink with N)."""
    for handle in legend.legend_handles:
        handle.set_sizes([size])


def _draw_sphere(ax, features, labels, weights, names, elev, azim):
    """One view of the unit sphere into a 3-D axes; the near hemisphere strong, the far one faint."""
    colors = class_colors(len(names))
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 37), np.linspace(0, np.pi, 19))
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.86", lw=0.35)
    unit = unit_rows(features)
    size = max(1.5, min(9.0, 5000.0 / len(features)))
    el, az = np.radians(elev), np.radians(azim)
    toward_viewer = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    screen_right = np.array([-np.sin(az), np.cos(az), 0.0])
    front = unit @ toward_viewer >= 0
    for c in range(len(names)):
        members = labels == c
        ax.scatter(*unit[members & ~front].T, s=size * 0.6, color=colors[c], alpha=0.18, lw=0, depthshade=False)
        ax.scatter(*unit[members & front].T, s=size, color=colors[c], alpha=0.9, lw=0, label=names[c], depthshade=False)
    if weights is not None:
        w_unit = unit_rows(weights.T)
        for c in range(weights.shape[1]):
            faint = w_unit[c] @ toward_viewer < 0
            ax.plot(*np.stack([np.zeros(3), w_unit[c] * 1.2]).T, color=colors[c], lw=1.4 if faint else 2.4,
                    alpha=0.45 if faint else 1.0, linestyle=":" if faint else "-")
            across = w_unit[c] @ screen_right  # names run from the tip toward the middle: none leaves the panel
            ax.text(*(w_unit[c] * 1.25), names[c], color=colors[c], fontsize=9, fontweight="bold",
                    ha="right" if across > 0.35 else "left" if across < -0.35 else "center", va="bottom",
                    alpha=0.5 if faint else 1.0, path_effects=_outline())
    ax.set_box_aspect((1, 1, 1), zoom=1.12)  # 3-D axes leave wide margins; the sphere may fill them
    ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1))
    ax.set_axis_off()
    ax.view_init(elev=elev, azim=azim)


def sphere_figure(features, labels, weights=None, class_names=None, title=None):
    """Interactive plotly figure of 3-D features on the unit sphere.

    Traces: one per class (points), one per class weight (a line from the
    origin, toggled together with its class through the legend group), and the
    translucent sphere: 2·C + 1 traces with weights, C + 1 without.
    """
    import plotly.graph_objects as go  # deferred: plotly is heavy and only the interactive sphere needs it

    features, labels, weights, num_classes, names = _check_embedding(features, labels, weights, class_names, 3)
    hex_colors = [matplotlib.colors.to_hex(c) for c in class_colors(num_classes)]
    unit = unit_rows(features)
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 48), np.linspace(0, np.pi, 24))
    traces = [
        go.Surface(
            x=np.cos(u) * np.sin(v) * 0.99, y=np.sin(u) * np.sin(v) * 0.99, z=np.cos(v) * 0.99,
            opacity=0.12, showscale=False, colorscale=[[0, "#888"], [1, "#888"]], hoverinfo="skip", name="unit sphere",
        )
    ]
    for c in range(num_classes):
        members = labels == c
        traces.append(go.Scatter3d(
            x=unit[members, 0], y=unit[members, 1], z=unit[members, 2], mode="markers",
            marker=dict(size=2, color=hex_colors[c], opacity=0.8), name=names[c], legendgroup=str(c),
        ))
    if weights is not None:
        w_unit = unit_rows(weights.T)
        for c in range(weights.shape[1]):
            tip = w_unit[c] * 1.3
            traces.append(go.Scatter3d(
                x=[0, tip[0]], y=[0, tip[1]], z=[0, tip[2]], mode="lines+text", text=["", names[c]],
                line=dict(color=hex_colors[c], width=6), name=f"W {names[c]}", legendgroup=str(c), showlegend=False,
            ))
    fig = go.Figure(traces)
    axis = dict(range=[-1.35, 1.35], showbackground=False, showticklabels=False, title="")
    fig.update_layout(
        title=title, scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"),
        legend=dict(itemsizing="constant", title="class (click to toggle)"),
        margin=dict(l=0, r=0, t=40 if title else 0, b=0), template="plotly_white",
    )
    return fig


def plot_embedding(features, labels, weights=None, class_names=None, title=None, boundaries=None):
    """`plot_features_2d` or `plot_sphere`, by the feature dimension (`boundaries`: 2-D only)."""
    dim = np.asarray(features).shape[1]
    if dim == 2:
        return plot_features_2d(features, labels, weights, class_names, title, boundaries=boundaries)
    if boundaries is not None:
        raise ValueError("decision boundaries are drawn for 2-D features only")
    if dim == 3:
        return plot_sphere(features, labels, weights, class_names, title)
    raise ValueError(f"can only draw 2-D or 3-D features, got dimension {dim}")


def plot_comparison(results, class_names=None, boundaries=None):
    """Feature plots of several variants side by side.

    `results`: dict variant → (features, labels, weights, subtitle), one
    column per variant. 2-D: raw features above, the unit circle below. 3-D:
    the sphere's front above, its back (the opposite view) below.
    `boundaries` (2-D only): dict variant → what `plot_features_2d` takes as its
    `boundaries`, for the variants whose decision boundaries are to be drawn.
    """
    items = list(results.items())
    dim = np.asarray(items[0][1][0]).shape[1]
    n = len(items)
    boundaries = boundaries or {}
    if dim == 2:
        fig, axes = plt.subplots(2, n, figsize=(5.0 * n, 10), constrained_layout=True, squeeze=False)
        for k, (name, (f, y, w, subtitle)) in enumerate(items):
            plot_features_2d(f, y, w, class_names, axes=(axes[0, k], axes[1, k]), boundaries=boundaries.get(name))
            axes[0, k].set_title(f"{name}: {subtitle}\nfeatures x", fontsize=11)
    elif boundaries:
        raise ValueError("decision boundaries are drawn for 2-D features only")
    else:
        fig = plt.figure(figsize=(5.2 * n, 10.0), constrained_layout=True)
        views = _front_and_back(*SPHERE_VIEW)
        for k, (name, (f, y, w, subtitle)) in enumerate(items):
            for row, (elev, azim) in enumerate(views):
                ax = fig.add_subplot(2, n, row * n + k + 1, projection="3d")
                title = f"{name}: {subtitle}\n{SIDE_TITLES[row]}" if row == 0 else SIDE_TITLES[row]
                plot_sphere(f, y, w, class_names, title=title, ax=ax, elev=elev, azim=azim, legend=False)
        _shared_class_legend(fig, ax)
    return fig


# ------------------------------------------------------------------ training
def plot_history(histories):
    """Accuracy and loss per epoch; `histories`: dict name → Keras history dict.

    Solid lines: training; dashed: test (`test_` keys) or validation (`val_` keys, Keras' own name).
    """
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colors = plt.get_cmap("Dark2")(np.arange(len(histories)))
    for color, (name, history) in zip(colors, histories.items()):
        for key, ax in (("accuracy", acc_ax), ("loss", loss_ax)):
            for prefix, style, part in (("", "-", "train"), ("test_", "--", "test"), ("val_", ":", "validation")):
                values = history.get(prefix + key)
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, values, style, color=color, lw=1.8, marker="o", ms=2.5, label=f"{name} {part}")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy (test/validation: margin-free logits)")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss (train: with the margin)")
    loss_ax.set_yscale("log")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    return fig


def plot_angle_histograms(histograms):
    """Intra- vs inter-class angle distributions; `histograms`: name → stats['histogram']."""
    n = len(histograms)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.6), constrained_layout=True, squeeze=False, sharey=True)
    for ax, (name, h) in zip(axes[0], histograms.items()):
        edges = np.asarray(h["bin_edges"])
        for key, color, label in (("intra", "tab:blue", "same class"), ("inter", "tab:red", "different classes")):
            counts = np.asarray(h[key], dtype=float)
            density = counts / max(counts.sum(), 1.0) / np.diff(edges)
            ax.stairs(density, edges, fill=True, alpha=0.35, color=color)
            ax.stairs(density, edges, color=color, lw=1.2, label=label)
        ax.set(title=name, xlabel="angle between test features (degrees)", xlim=(0, 180))
        ax.set_xticks(np.arange(0, 181, 30))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(frameon=False, fontsize=8)
    return fig


def plot_pair_angles(runs, rows=None):
    """Angles of positive pairs (same identity) and negative pairs (two identities), one panel per run.

    `runs`: dict name → {part: histogram}, a part (e.g. "training faces", "held-out faces") → a
    `viz.stats.angle_statistics(...)["histogram"]`. The first part is drawn filled, the others as
    dashed outlines; the densities are normalised per curve, so where the positive and the
    negative curves overlap the two kinds of pairs cannot be told apart by angle alone. `rows`
    (name → a dict with `max_intra_deg`, `min_inter_deg` and `train_…` of them) adds the paper's
    criterion to each panel's title.
    """
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.7), constrained_layout=True, squeeze=False, sharey=True)
    for ax, (name, parts) in zip(axes[0], runs.items()):
        for k, (part, h) in enumerate(parts.items()):
            edges = np.asarray(h["bin_edges"])
            for key, color, kind in (("intra", "tab:blue", "positive"), ("inter", "tab:red", "negative")):
                counts = np.asarray(h[key], dtype=float)
                density = counts / max(counts.sum(), 1.0) / np.diff(edges)
                if k == 0:
                    ax.stairs(density, edges, fill=True, alpha=0.3, color=color)
                    ax.stairs(density, edges, color=color, lw=1.1, label=f"{kind} pairs, {part}")
                else:
                    ax.stairs(density, edges, color=color, lw=1.4, ls="--", label=f"{kind} pairs, {part}")
        title = name
        row = (rows or {}).get(name)
        if row:
            title += (f"\ntraining: max intra {row['train_max_intra_deg']:.0f}°, min inter {row['train_min_inter_deg']:.0f}°"
                      f"\nheld-out: max intra {row['max_intra_deg']:.0f}°, min inter {row['min_inter_deg']:.0f}°")
        ax.set_title(title, fontsize=9)
        ax.set(xlabel="angle between the two faces' features (degrees)", xlim=(0, 180))
        ax.set_xticks(np.arange(0, 181, 30))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(frameon=False, fontsize=7, loc="upper right")
    return fig
