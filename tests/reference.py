"""Float64 NumPy reference of the paper's formulas, written independently of the
package: θ from arccos, k from floor(mθ/π), cos(mθ) from np.cos."""

import numpy as np


def psi_ref(theta, m):
    theta = np.asarray(theta, dtype=np.float64)
    k = np.clip(np.floor(theta * m / np.pi), 0, m - 1)
    return (-1.0) ** k * np.cos(m * theta) - 2.0 * k


def lambda_ref(t, base, gamma, power, minimum):
    return max(minimum, base * (1.0 + gamma * t) ** (-power))


def head_ref(x, kernel, labels=None, *, variant, m=4, lam=0.0, bias=None):
    """Logits of SoftmaxHead in float64. Margin applied when labels is given."""
    x = np.asarray(x, np.float64)
    w = np.asarray(kernel, np.float64)
    if variant == "original":
        return x @ w + (0.0 if bias is None else np.asarray(bias, np.float64))
    w_n = w / np.linalg.norm(w, axis=0, keepdims=True)
    logits = x @ w_n
    if variant == "modified" or labels is None:
        return logits
    rows = np.arange(len(x))
    x_norm = np.linalg.norm(x, axis=1)
    cos = np.clip(logits[rows, labels] / x_norm, -1.0, 1.0)
    theta = np.arccos(cos)
    logits = logits.copy()
    logits[rows, labels] = x_norm * (lam * cos + psi_ref(theta, m)) / (1.0 + lam)
    return logits


def softmax_ce_ref(logits, labels):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_prob[np.arange(len(labels)), labels].mean()


def scaled_head_ref(x, kernel, labels=None, *, variant, scale, margin=None):
    """Logits of the scaled variants in float64: s cos θ_j, the target's cos θ_y replaced in training.

    normface: s cos θ_y; cosface: s (cos θ_y − M); arcface: s cos(θ_y + M) while θ_y + M ≤ π, else
    s (cos θ_y − M sin M) (insightface); sphereface_r: s ψ(θ_y) with ψ(θ) = (−1)^k cos(mθ) − 2k,
    k = floor(mθ/π), m real (OpenSphere's SphereFaceR_H, magnitude "v0").
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(kernel, np.float64)
    norms = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
    cos = np.clip((x / norms) @ (w / np.linalg.norm(w, axis=0, keepdims=True)), -1.0, 1.0)
    if variant == "normface" or labels is None:
        return scale * cos
    rows = np.arange(len(x))
    theta = np.arccos(cos[rows, labels])
    if variant == "cosface":
        target = np.cos(theta) - margin
    elif variant == "arcface":
        target = np.where(theta + margin <= np.pi, np.cos(theta + margin), np.cos(theta) - margin * np.sin(margin))
    elif variant == "sphereface_r":
        k = np.floor(margin * theta / np.pi)
        target = (-1.0) ** k * np.cos(margin * theta) - 2.0 * k
    else:
        raise ValueError(variant)
    cos = cos.copy()
    cos[rows, labels] = target
    return scale * cos
