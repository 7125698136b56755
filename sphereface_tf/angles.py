"""Angles between features and class directions, in float64 NumPy (for plots, statistics and embeddings)."""

import numpy as np


def unit_rows(a):
    """Rows of `a` scaled to unit length in float64; zero rows stay zero."""
    a = np.asarray(a, dtype=np.float64)
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, norm, out=np.zeros_like(a), where=norm > 0)


def class_angles(features, weights):
    """Angles θ_ij ∈ [0, π] between features (N, D) and class weights (D, C).

    Computed in float64 NumPy (for plots and statistics, not for training).
    Zero vectors get θ = π/2 against everything.
    """
    f = np.asarray(features, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if f.ndim != 2 or w.ndim != 2 or f.shape[1] != w.shape[0]:
        raise ValueError(
            f"class_angles expects features (N, D) and weights (D, C); got {f.shape} and {w.shape}."
        )
    return np.arccos(np.clip(unit_rows(f) @ unit_rows(w.T).T, -1.0, 1.0))
