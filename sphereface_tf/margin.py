"""The A-Softmax margin function and the λ annealing schedule, in `keras.ops`.

Everything here is backend-agnostic and free of `arccos`: ψ(θ) is evaluated from
cos θ alone, so its derivative with respect to cos θ is a polynomial and stays
finite at cos θ = ±1 (where d arccos / dx is infinite).

    ψ(θ) = (-1)^k cos(mθ) − 2k,   θ ∈ [kπ/m, (k+1)π/m],  k ∈ {0, …, m−1}

* cos(mθ) = T_m(cos θ), the Chebyshev polynomial of the first kind, evaluated
  by the stable three-term recurrence T_{n+1}(c) = 2c·T_n(c) − T_{n−1}(c).
* k = #{ j ∈ 1…m−1 : cos θ ≤ cos(jπ/m) }, i.e. how many of the interval
  boundaries jπ/m lie at or below θ. At a boundary both neighbouring pieces
  give the same value 1 − 2k, so the choice made there does not matter.
"""

import math

from keras import ops


def chebyshev_cos_multiple(cos_theta, m):
    """cos(m·θ) as the Chebyshev polynomial T_m evaluated at cos θ.

    Args:
        cos_theta: tensor of cosines (any float dtype), values in [-1, 1].
        m: Python int ≥ 0.
    """
    m = int(m)
    if m == 0:
        return ops.ones_like(cos_theta)
    prev, cur = ops.ones_like(cos_theta), cos_theta
    for _ in range(m - 1):
        prev, cur = cur, 2.0 * cos_theta * cur - prev
    return cur


def margin_interval(cos_theta, m):
    """k such that θ ∈ [kπ/m, (k+1)π/m], as a float tensor like `cos_theta`."""
    k = ops.zeros_like(cos_theta)
    for j in range(1, int(m)):
        boundary = math.cos(j * math.pi / m)
        k = k + ops.cast(ops.less_equal(cos_theta, boundary), cos_theta.dtype)
    return k


def psi(cos_theta, m):
    """The A-Softmax target function ψ(θ) = (-1)^k cos(mθ) − 2k, from cos θ.

    Monotonically decreasing from ψ(0) = 1 to ψ(π) = 1 − 2m, continuous, and
    equal to cos θ for m = 1.
    """
    cos_theta = ops.convert_to_tensor(cos_theta)
    k = margin_interval(cos_theta, m)
    sign = 1.0 - 2.0 * ops.mod(k, 2.0)  # (-1)^k
    return sign * chebyshev_cos_multiple(cos_theta, m) - 2.0 * k


def annealed_lambda(step, base=1000.0, gamma=0.12, power=1.0, minimum=5.0):
    """λ_t = max(minimum, base · (1 + gamma·t)^(−power)), as the official Caffe layer.

    `step` may be a Python number or a tensor; the result has the same kind.
    """
    if isinstance(step, (int, float)):
        return max(float(minimum), float(base) * (1.0 + gamma * step) ** (-power))
    step = ops.cast(step, "float32")
    value = base * ops.power(1.0 + gamma * step, -power)
    return ops.maximum(ops.cast(minimum, "float32"), value)
