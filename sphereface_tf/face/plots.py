"""Figures of face verification: ROC, score histograms, image pairs. Arrays in, figures out."""

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_roc(fpr, tpr, auc=None, title="ROC"):
    """ROC curve with a log-scale false accept axis (where face verification is judged)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
    fpr = np.asarray(fpr)
    ax.plot(np.maximum(fpr, 1e-5), tpr, lw=2, label=f"AUC {auc:.4f}" if auc is not None else None)
    ax.set(xscale="log", xlim=(1e-4, 1), ylim=(0, 1.01), xlabel="false accept rate", ylabel="true accept rate", title=title)
    for far in (1e-3, 1e-2):
        ax.axvline(far, color="0.7", lw=0.8, ls="--")
    ax.grid(alpha=0.3, which="both")
    if auc is not None:
        ax.legend(frameon=False, loc="lower right")
    return fig


def plot_roc_curves(curves, title="ROC"):
    """Several ROC curves on one log-FAR axis: `curves` maps a name to (fpr, tpr, auc)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6), constrained_layout=True)
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(np.maximum(np.asarray(fpr), 1e-5), tpr, lw=2, label=f"{name} (AUC {auc:.4f})")
    ax.set(xscale="log", xlim=(1e-3, 1), ylim=(0, 1.01), xlabel="false accept rate", ylabel="true accept rate", title=title)
    for far in (1e-3, 1e-2):
        ax.axvline(far, color="0.7", lw=0.8, ls="--")
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False, loc="lower right")
    return fig


def plot_score_histogram(scores, same, thresholds=None):
    """Cosine similarity of matched vs mismatched pairs, with the chosen thresholds."""
    scores, same = np.asarray(scores), np.asarray(same, bool)
    fig, ax = plt.subplots(figsize=(6.0, 3.8), constrained_layout=True)
    bins = np.linspace(min(scores.min(), -0.2), 1.0, 61)
    ax.hist(scores[same], bins, alpha=0.55, color="tab:blue", label="same person")
    ax.hist(scores[~same], bins, alpha=0.55, color="tab:red", label="different people")
    for t in np.atleast_1d(thresholds if thresholds is not None else []):
        ax.axvline(t, color="k", lw=0.6, alpha=0.5)
    ax.set(xlabel="cosine similarity", ylabel="pairs", title="verification scores (lines: fold thresholds)")
    ax.legend(frameon=False)
    return fig


def plot_pair_grid(pairs, titles, max_pairs=12):
    """Image pairs side by side (each item: two HxWx3 arrays), one pair per cell."""
    pairs = list(pairs)[:max_pairs]
    cols = 4
    rows = max(1, int(np.ceil(len(pairs) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows + 0.3), squeeze=False, constrained_layout=True)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (a, b), title in zip(axes.ravel(), pairs, titles):
        ax.imshow(np.concatenate([np.asarray(a, np.uint8), np.asarray(b, np.uint8)], axis=1))
        ax.set_title(title, fontsize=7)
    return fig
