"""Training you can watch: the features of a fixed set of inputs, epoch by epoch, as an animation.

Arrays in, figures and images out; nothing here trains, and only `write_animation` writes. A frame is anything with
`epoch`, `lam`, `features` (N, D) and `weights` (D, C) or None — as attributes (e.g.
`training.callbacks.FeatureFrame`) or as dict keys. D is 2 (the unit circle) or 3 (the
unit sphere); `labels` (N,) and `class_names` are the same for every frame.

* `animation_figure` — a plotly figure with one animation frame per snapshot, play/pause
  buttons and a slider labelled by epoch (for a self-contained HTML page).
* `animation_images` — the same frames drawn by matplotlib as PIL images of one size
  (for a GIF: `util.files.save_gif`).
* `thin_frames` — at most so many frames, evenly spaced, the first and last kept.
* `frame_arrays` — the frames as arrays for an .npz (epoch, λ, features, weights).
* `write_animation` — the page and the GIF of a run, written atomically.
* `side_by_side` — the GIF frames of several runs joined left to right.
"""

import matplotlib
import numpy as np
from PIL import Image

from sphereface_tf.angles import unit_rows
from sphereface_tf.util.files import atomic_write, save_gif
from sphereface_tf.viz.plots import SIDE_TITLES, SPHERE_VIEW, _check_embedding, _outline, _uniform_markers, class_colors, opposite_view, plt, plot_sphere

JITTER = 0.06  # radial jitter of the points on the unit circle, so that the density of each class shows


def _fields(frame):
    """(epoch, λ or None, features, weights or None) of a frame given as an object or a dict."""
    get = frame.get if isinstance(frame, dict) else (lambda name: getattr(frame, name, None))
    features = np.asarray(get("features"), dtype=np.float64)
    weights = get("weights")
    lam = get("lam")
    return int(get("epoch")), None if lam is None else float(lam), features, None if weights is None else np.asarray(weights, dtype=np.float64)


def frame_title(epoch, lam=None):
    """"epoch k · λ = x" (λ to four significant digits), or "epoch k" without a λ."""
    return f"epoch {epoch}" if lam is None else f"epoch {epoch} · λ = {lam:.4g}"


def _checked(frames, labels, class_names, title, titles):
    """The frames' fields, the labels, the number of classes, the names, the dimension and each frame's full title."""
    if not frames:
        raise ValueError("an animation needs at least one frame")
    fields = [_fields(f) for f in frames]
    dim = fields[0][2].shape[1] if fields[0][2].ndim == 2 else None
    if dim not in (2, 3):
        raise ValueError(f"can only animate 2-D or 3-D features, got shape {fields[0][2].shape}")
    num_classes, names = 0, None
    for _, _, features, weights in fields:
        if features.shape != fields[0][2].shape:
            raise ValueError(f"every frame needs features of shape {fields[0][2].shape}, got {features.shape}")
        _, labels_, _, n, names = _check_embedding(features, labels, weights, class_names, dim)
        num_classes = max(num_classes, n)
    names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
    if titles is not None and len(titles) != len(fields):
        raise ValueError(f"{len(titles)} titles for {len(fields)} frames")
    own = titles if titles is not None else [frame_title(epoch, lam) for epoch, lam, _, _ in fields]
    full = [f"{title} — {t}" if title else t for t in own]
    return fields, labels_, num_classes, names, dim, full


def thin_frames(frames, at_most=40):
    """At most `at_most` of `frames` (≥ 2), evenly spaced, always the first and the last."""
    frames = list(frames)
    if len(frames) <= at_most:
        return frames
    keep = np.unique(np.round(np.linspace(0, len(frames) - 1, max(2, int(at_most)))).astype(int))
    return [frames[i] for i in keep]


def _jitter(n):
    return 1.0 + np.random.default_rng(0).uniform(-JITTER, JITTER, n)[:, None]


# ------------------------------------------------------------------ plotly
def _plotly_traces(go, features, weights, labels, names, colors, dim, jitter):
    """The per-frame traces: the points of each class, then each class weight's line (with its name at the tip)."""
    unit = unit_rows(features) * (jitter if dim == 2 else 1.0)
    traces = []
    for c in range(len(names)):
        members = labels == c
        if dim == 2:
            traces.append(go.Scatter(x=unit[members, 0], y=unit[members, 1], mode="markers", name=names[c], legendgroup=str(c),
                                     marker=dict(size=4, color=colors[c], opacity=0.6)))
        else:
            traces.append(go.Scatter3d(x=unit[members, 0], y=unit[members, 1], z=unit[members, 2], mode="markers", name=names[c],
                                       legendgroup=str(c), marker=dict(size=2, color=colors[c], opacity=0.8)))
    if weights is not None:
        w_unit = unit_rows(weights.T)
        for c in range(weights.shape[1]):
            tip = w_unit[c] * 1.3
            line = dict(mode="lines+text", text=["", names[c]], name=f"W {names[c]}", legendgroup=str(c), showlegend=False,
                        textfont=dict(color=colors[c]))
            if dim == 2:
                traces.append(go.Scatter(x=[0, tip[0]], y=[0, tip[1]], line=dict(color=colors[c], width=3), **line))
            else:
                traces.append(go.Scatter3d(x=[0, tip[0]], y=[0, tip[1]], z=[0, tip[2]], line=dict(color=colors[c], width=6), **line))
    return traces


def animation_figure(frames, labels, class_names=None, title=None, titles=None, frame_ms=500):
    """A plotly figure of the features in `frames`, one animation frame per snapshot.

    2-D: the features normalised onto the unit circle (with a small radial jitter, the same
    in every frame, so that each class's density shows); 3-D: onto the unit sphere, as
    `plots.sphere_figure`. Class weight directions are lines from the origin in the class
    colour. The first trace is the circle or sphere (the same in every frame), then one
    trace per class, then one per class weight; each animation frame replaces all but the
    first. Each frame is named by its epoch and titled "epoch k · λ = x" (`titles` replaces
    these, one per frame; `title` goes before them). Play/pause buttons play the frames
    `frame_ms` apart; the slider's steps are labelled by epoch. Write it with
    `fig.to_html(include_plotlyjs=True)` for a page that works offline.
    """
    import plotly.graph_objects as go  # deferred: plotly is heavy and only the interactive pages need it

    fields, labels, num_classes, names, dim, full_titles = _checked(frames, labels, class_names, title, titles)
    colors = [matplotlib.colors.to_hex(c) for c in class_colors(max(num_classes, len(names)))]
    jitter = _jitter(len(labels))
    if dim == 2:
        angle = np.linspace(0, 2 * np.pi, 181)
        base = go.Scatter(x=np.cos(angle), y=np.sin(angle), mode="lines", line=dict(color="#999", width=1),
                          hoverinfo="skip", name="unit circle", showlegend=False)
    else:
        u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 48), np.linspace(0, np.pi, 24))
        base = go.Surface(x=np.cos(u) * np.sin(v) * 0.99, y=np.sin(u) * np.sin(v) * 0.99, z=np.cos(v) * 0.99, opacity=0.12,
                          showscale=False, colorscale=[[0, "#888"], [1, "#888"]], hoverinfo="skip", name="unit sphere")
    per_frame = [_plotly_traces(go, features, weights, labels, names, colors, dim, jitter) for _, _, features, weights in fields]
    animated = list(range(1, 1 + max(len(t) for t in per_frame)))
    keys = [str(epoch) for epoch, _, _, _ in fields]
    keys = [k if keys.count(k) == 1 else f"{k}#{i}" for i, k in enumerate(keys)]  # frame names must be unique
    fig = go.Figure(
        data=[base, *per_frame[0]],
        frames=[go.Frame(data=traces, traces=animated[:len(traces)], name=key, layout=dict(title=dict(text=text)))
                for key, traces, text in zip(keys, per_frame, full_titles)],
    )
    play = dict(frame=dict(duration=int(frame_ms), redraw=True), fromcurrent=True, transition=dict(duration=0), mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    steps = [dict(method="animate", label=str(epoch), args=[[key], dict(pause, frame=dict(duration=0, redraw=True))])
             for key, (epoch, _, _, _) in zip(keys, fields)]
    fig.update_layout(
        title=dict(text=full_titles[0]), template="plotly_white",
        legend=dict(itemsizing="constant", title="class (click to toggle)"),
        margin=dict(l=0, r=0, t=50, b=0),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top", pad=dict(t=40, r=10),
                          showactive=False, buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                                     dict(label="❚❚ pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, steps=steps, x=0.16, y=0.0, len=0.84, xanchor="left", yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="epoch ", visible=True), transition=dict(duration=0))],
    )
    if dim == 2:
        axis = dict(range=[-1.5, 1.5], showticklabels=False, zeroline=True, zerolinecolor="#ddd", showgrid=False, title="")
        fig.update_layout(xaxis=axis, yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    else:
        axis = dict(range=[-1.35, 1.35], showbackground=False, showticklabels=False, title="")
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"))
    return fig


# -------------------------------------------------------------- matplotlib
def _draw_circle(ax, features, labels, weights, names, colors, jitter):
    unit = unit_rows(features) * jitter
    size = max(1.5, min(9.0, 4000.0 / len(features)))
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.6", lw=0.8))
    for c in range(len(names)):
        members = labels == c
        ax.scatter(*unit[members].T, s=size, color=colors[c], alpha=0.55, lw=0, label=names[c])
    if weights is not None:
        w_unit = unit_rows(weights.T)
        for c in range(weights.shape[1]):
            ax.plot([0, w_unit[c, 0] * 1.25], [0, w_unit[c, 1] * 1.25], color=colors[c], lw=1.8, path_effects=_outline())
            ax.text(*(w_unit[c] * 1.38), names[c], color=colors[c], ha="center", va="center", fontsize=10,
                    fontweight="bold", path_effects=_outline())
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), xticks=[], yticks=[], aspect="equal")
    ax.axhline(0, color="0.88", lw=0.6, zorder=0)
    ax.axvline(0, color="0.88", lw=0.6, zorder=0)
    for side in ax.spines.values():
        side.set_visible(False)


def _to_image(fig):
    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    plt.close(fig)
    return image


def animation_images(frames, labels, class_names=None, title=None, titles=None, views=2, dpi=72,
                     elev=SPHERE_VIEW[0], azim=SPHERE_VIEW[1]):
    """The frames drawn by matplotlib: a list of PIL RGB images, all of one size.

    2-D: the unit circle (the points jittered as in `animation_figure`); 3-D: the unit
    sphere as `plots.plot_sphere` draws it, from (elev, azim) and, with `views=2`, also
    from the opposite side. Each image is titled like the frames of `animation_figure`
    and has a legend of the classes. `dpi` sets the size (at 72: 691×403 pixels for two
    sphere views, 432×461 for one view or the circle).
    """
    fields, labels, num_classes, names, dim, full_titles = _checked(frames, labels, class_names, title, titles)
    if views not in (1, 2):
        raise ValueError(f"views must be 1 or 2, got {views}")
    colors = class_colors(max(num_classes, len(names)))
    jitter = _jitter(len(labels))
    wide = dim == 3 and views == 2
    size = (9.6, 5.6) if wide else (6.0, 6.4)
    legend_h = 0.09 if wide else 0.085  # bottom strip of the figure for the legend
    title_h = 0.085 if wide else 0.08
    images = []
    for (_, _, features, weights), text in zip(fields, full_titles):
        fig = plt.figure(figsize=size, dpi=dpi)
        fig.patch.set_facecolor("white")
        height = 1.0 - legend_h - title_h
        if dim == 2:
            ax = fig.add_axes((0.02, legend_h, 0.96, height))
            _draw_circle(ax, features, labels, weights, names, colors, jitter)
        else:
            cameras = [(elev, azim), opposite_view(elev, azim)][:views]
            for k, (el, az) in enumerate(cameras):
                ax = fig.add_axes((k / views, legend_h, 1.0 / views, height), projection="3d")
                plot_sphere(features, labels, weights, names, ax=ax, elev=el, azim=az, legend=False)
                if views == 2:
                    ax.text2D(0.5, 0.99, SIDE_TITLES[k], transform=ax.transAxes, ha="center", va="top", fontsize=10, color="0.35")
        handles, handle_labels = ax.get_legend_handles_labels()
        _uniform_markers(fig.legend(handles, handle_labels, loc="lower center", ncols=min(len(handles), 10),
                                    fontsize=10, frameon=False, handletextpad=0.1, columnspacing=0.9,
                                    bbox_to_anchor=(0.5, 0.0)), size=40)
        fig.text(0.5, 1.0 - title_h / 2, text, ha="center", va="center", fontsize=14, fontweight="bold")
        images.append(_to_image(fig))
    return images


# ------------------------------------------------------------------ files
def frame_arrays(frames):
    """The frames as arrays: `epoch` (F,), `lam` (F,, NaN without λ), `features` (F, N, D) and, if every frame has
    them, `weights` (F, D, C) — what a run's `animation.npz` holds."""
    fields = [_fields(f) for f in frames]
    arrays = dict(epoch=np.asarray([f[0] for f in fields], np.int64),
                  lam=np.asarray([np.nan if f[1] is None else f[1] for f in fields], np.float64),
                  features=np.stack([f[2] for f in fields]).astype(np.float32))
    if all(f[3] is not None for f in fields):
        arrays["weights"] = np.stack([f[3] for f in fields]).astype(np.float32)
    return arrays


def write_animation(frames, labels, class_names, html_path, gif_path, title=None, frame_ms=500, at_most=40, views=2):
    """Write `animation_figure` as an offline page (plotly.js inline) and `animation_images` as a GIF.

    The page has every frame; the GIF at most `at_most` of them (`thin_frames`), `frame_ms` apart, the
    last held two seconds. Returns the figure and the GIF's images (for `animation_page`, `side_by_side`).
    """
    fig = animation_figure(frames, labels, class_names, title=title, frame_ms=frame_ms)
    with atomic_write(html_path, "w") as handle:
        handle.write(fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False))
    images = animation_images(thin_frames(frames, at_most), labels, class_names, title=title, views=views)
    save_gif(images, gif_path, duration_ms=frame_ms)
    return fig, images


def animation_page(figures):
    """One offline page of several animation figures (dict heading → figure), plotly.js inline once."""
    parts = []
    for k, (heading, fig) in enumerate(figures.items()):
        parts.append(f'<h2 style="font-family:sans-serif">{heading}</h2>'
                     + fig.to_html(include_plotlyjs=k == 0, full_html=False, auto_play=False, default_height="720px"))
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>training, epoch by epoch</title></head><body>'
            + "".join(parts) + "</body></html>")


def side_by_side(runs):
    """Join several runs' GIF images frame by frame, left to right (`runs`: lists of PIL images of one length)."""
    runs = [list(r) for r in runs]
    if not runs or len({len(r) for r in runs}) != 1:
        raise ValueError(f"side_by_side needs runs with the same number of frames, got {[len(r) for r in runs]}")
    joined = []
    for images in zip(*runs):
        canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), "white")
        x = 0
        for image in images:
            canvas.paste(image, (x, 0))
            x += image.width
        joined.append(canvas)
    return joined
