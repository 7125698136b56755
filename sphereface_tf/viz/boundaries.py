"""Decision boundaries of the softmax variants for 2-D features (SphereFace, Table 1 and Fig. 3, and its family).

Pure float64 NumPy; the plots in `viz.plots` draw what these functions return.

* original softmax, logits Wₖ·x + bₖ: between classes i and j the line
  (Wᵢ − Wⱼ)·x + bᵢ − bⱼ = 0, of which only the part where i and j are the two
  largest logits is a decision boundary; `original_boundaries` returns that part,
  clipped to a box (the panel).
* modified softmax (‖Wₖ‖ = 1, b = 0), logits ‖x‖ cos θₖ: the bisector θᵢ = θⱼ, a ray
  from the origin.
* A-Softmax with margin m: class i's boundary ψ̃(θᵢ) = cos θⱼ and class j's
  ψ̃(θⱼ) = cos θᵢ, with the monotone ψ(θ) = (−1)ᵏ cos(mθ) − 2k of the paper and, as
  the head trains with it, the λ-blended target ψ̃(θ) = (λ cos θ + ψ(θ)) / (1 + λ).
  At λ = 0 and two weights Δ apart, class i's boundary lies at θᵢ = Δ/(m + 1); the
  wedge between the two boundaries (no class satisfies its margin there) is the
  angular margin.
* the scaled variants (logits s cos θₖ; s cancels): normface the bisector; cosface
  cos θᵢ − M = cos θⱼ; arcface cos(θᵢ + M) = cos θⱼ (past θ + M = π insightface's
  cos θ − M sin M); sphereface_r ψ(θᵢ) = cos θⱼ with its real m. Where the margin is wider
  than half the arc (M above the arc for arcface), no point of the arc satisfies it: both
  boundaries sit on the weights and the whole arc is margin.

Neighbours are consecutive class-weight directions in angular order around the circle,
the wrap-around pair (last, first) included: the arc from Wᵢ counterclockwise to Wⱼ
holds no other weight. For the original softmax every pair is tried and only the
parts that are real boundaries come back, which are exactly the pairs whose regions
touch on the plane.
"""

import dataclasses
import numbers

import numpy as np

VARIANTS = ("original", "modified", "angular", "normface", "cosface", "arcface", "sphereface_r")
_MARGINED = ("cosface", "arcface", "sphereface_r")  # the scaled variants with a margin M (sphereface_r's real m)
_GRID = 4097  # samples of an arc when looking for the first sign change (wide arcs only need it)
_TIE = 1e-9  # logits or cosines this close count as equal when checking a boundary is real


@dataclasses.dataclass(frozen=True)
class AngularBoundary:
    """The boundaries between neighbours i and j on the arc from Wᵢ counterclockwise to Wⱼ.

    Angles are directions in radians measured like `atan2` (unwrapped:
    start ≤ angle_i ≤ angle_j ≤ start + width). For the modified softmax, and for
    m = 1, angle_i == angle_j (the bisector). `real_i` says whether at angle_i class j
    is i's strongest competitor (so the pairwise boundary is the multi-class one),
    `real_j` the same for class j at angle_j.
    """

    i: int
    j: int
    start: float  # direction of Wᵢ
    width: float  # Δ: the arc from Wᵢ to Wⱼ, in (0, 2π)
    angle_i: float  # class i's boundary: θᵢ = offset
    angle_j: float  # class j's boundary: θⱼ = offset
    real_i: bool = True
    real_j: bool = True

    @property
    def offset(self):
        """θ from Wᵢ to class i's boundary (= from Wⱼ to class j's)."""
        return self.angle_i - self.start

    @property
    def margin(self):
        """Angular width of the wedge between the two boundaries (0 without a margin)."""
        return self.angle_j - self.angle_i


@dataclasses.dataclass(frozen=True)
class LineBoundary:
    """The real part of the original softmax's boundary between classes i and j: a segment."""

    i: int
    j: int
    start: np.ndarray  # (2,) end points, float64
    end: np.ndarray


@dataclasses.dataclass(frozen=True)
class BoundarySpec:
    """What a 2-D plot needs to draw a head's boundaries (the weights come with the plot).

    variant: one of `VARIANTS`; m: the angular margin (angular only); lam: the λ of the
    blended target the picture uses (angular only; 0 is the paper's pure A-Softmax);
    bias: (C,) for original (None: zeros); lam_note: how λ was chosen, shown in the
    figure, e.g. "training's final λ"; margin: M of cosface / arcface, the real m of
    sphereface_r (those three only).
    """

    variant: str
    m: int = 1
    lam: float = 0.0
    bias: object = None
    lam_note: str = None
    margin: float = None

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"boundary variant must be one of {', '.join(map(repr, VARIANTS))}; got {self.variant!r}")
        _check_margin(self.m, self.lam)
        if self.variant != "angular" and self.m != 1:
            raise ValueError(f"m={self.m} needs variant='angular'; the {self.variant!r} softmax has no margin")
        if self.bias is not None and self.variant != "original":
            raise ValueError(f"a bias belongs to the original softmax, not {self.variant!r}")
        if (self.margin is None) == (self.variant in _MARGINED):
            raise ValueError(f"margin is given for {', '.join(_MARGINED)} and only for them; got margin={self.margin!r} "
                             f"for {self.variant!r}")
        if self.margin is not None and (not np.isfinite(self.margin) or self.margin < (1 if self.variant == "sphereface_r" else 0)):
            raise ValueError(f"margin of {self.variant!r} must be finite and >= {1 if self.variant == 'sphereface_r' else 0}, "
                             f"got {self.margin!r}")

    def target(self):
        """The target cos-logit as a function of θ (float64) for `margin_offset`, or None for the bisector."""
        if self.variant in ("modified", "normface") or self.variant == "angular" and self.m == 1:
            return None
        if self.variant == "angular":
            return lambda theta: target_cos(theta, self.m, self.lam)
        return lambda theta: family_target(theta, self.variant, self.margin)


def as_spec(boundaries):
    """A `BoundarySpec` from a spec, a dict of its fields, or None (→ None)."""
    if boundaries is None or isinstance(boundaries, BoundarySpec):
        return boundaries
    if isinstance(boundaries, dict):
        return BoundarySpec(**boundaries)
    raise ValueError(f"boundaries must be a BoundarySpec or a dict of its fields, got {type(boundaries).__name__}")


# ------------------------------------------------------------------ margin
def _check_margin(m, lam):
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")


def psi(theta, m):
    """ψ(θ) = (−1)ᵏ cos(mθ) − 2k for θ ∈ [kπ/m, (k+1)π/m], float64, θ in [0, π]."""
    theta = np.asarray(theta, dtype=np.float64)
    k = np.clip(np.floor(theta * m / np.pi), 0, m - 1)
    return np.where(k % 2 == 0, 1.0, -1.0) * np.cos(m * theta) - 2.0 * k


def target_cos(theta, m, lam=0.0):
    """The head's training target (λ cos θ + ψ(θ)) / (1 + λ), float64."""
    theta = np.asarray(theta, dtype=np.float64)
    return (lam * np.cos(theta) + psi(theta, m)) / (1.0 + lam)


def family_target(theta, variant, margin):
    """The scaled variants' target (÷ s) at θ, float64: cosface cos θ − M; arcface cos(θ + M), past π insightface's
    cos θ − M sin M; sphereface_r ψ(θ) with a real m (k = ⌊mθ/π⌋, not capped)."""
    theta = np.asarray(theta, dtype=np.float64)
    if variant == "cosface":
        return np.cos(theta) - margin
    if variant == "arcface":
        return np.where(theta + margin <= np.pi, np.cos(theta + margin), np.cos(theta) - margin * np.sin(margin))
    if variant == "sphereface_r":
        k = np.floor(margin * theta / np.pi)
        return np.where(k % 2 == 0, 1.0, -1.0) * np.cos(margin * theta) - 2.0 * k
    raise ValueError(f"no margin target for {variant!r}")


def margin_offset(width, m, lam=0.0, target=None):
    """θ from Wᵢ to class i's A-Softmax boundary toward Wⱼ, for weights `width` = Δ apart along the arc.

    The root in [0, Δ/2] of g(θ) = ψ̃(θ) − cos(Δ − θ), where ψ̃ is the λ-blended target
    (a point θ from Wᵢ on the arc is Δ − θ from Wⱼ; the cosine does not care which way
    round). g(0) > 0 ≥ g(Δ/2). For Δ ≤ π, ψ̃ decreases and cos(Δ − θ) increases on the
    interval, so the root is unique; for a wider arc cos(Δ − θ) first decreases, and
    the boundary is the first sign change from Wᵢ (the edge of class i's region around
    Wᵢ), found on a grid. Then bisection to float64 precision. m = 1: the bisector Δ/2.
    `target` (a function of θ) replaces ψ̃ for the scaled variants; where g(0) ≤ 0 (a
    margin too wide for the arc) the offset is 0: no point of the arc satisfies it.
    """
    _check_margin(m, lam)
    width = float(width)
    if not np.isfinite(width) or not 0.0 < width < 2.0 * np.pi:
        raise ValueError(f"the arc between two weights must lie in (0, 2π), got {width!r}")
    half = width / 2.0
    if m == 1 and target is None:
        return half
    target = target or (lambda theta: target_cos(theta, m, lam))

    def g(theta):
        return target(theta) - np.cos(width - theta)

    if g(0.0) <= 0.0:
        return 0.0

    lo, hi = 0.0, half
    if width > np.pi:  # g may not be monotone below Δ − π: bracket the first sign change
        grid = np.linspace(0.0, half, _GRID)
        first = int(np.argmax(g(grid) <= 0.0))  # g(half) <= 0, so there is one
        lo, hi = grid[max(first - 1, 0)], grid[first]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if g(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------- weights
def _check_weights(weights, directions=True):
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != 2 or w.shape[1] < 2:
        raise ValueError(f"boundaries need 2-D class weights of shape (2, C) with C >= 2, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("class weights must be finite")
    if directions:
        norms = np.linalg.norm(w, axis=0)
        if np.any(norms == 0.0):
            raise ValueError(f"class weights {np.flatnonzero(norms == 0.0).tolist()} are zero: no direction")
    return w


def neighbour_arcs(weights):
    """(i, j, start, width) for each pair of angular neighbours: the arc from Wᵢ counterclockwise to Wⱼ.

    C arcs for C ≥ 3, the wrap-around one included; two (both ways round) for C = 2.
    Raises ValueError for weights of zero length or two weights pointing the same way.
    """
    w = _check_weights(weights)
    phi = np.arctan2(w[1], w[0])
    order = np.argsort(phi, kind="stable")
    arcs = []
    for k, i in enumerate(order):
        j = order[(k + 1) % len(order)]
        width = (phi[j] - phi[i]) % (2.0 * np.pi)
        if width < 1e-12 or width > 2.0 * np.pi - 1e-12:
            raise ValueError(f"class weights {int(i)} and {int(j)} point the same way: no boundary between them")
        arcs.append((int(i), int(j), float(phi[i]), float(width)))
    return arcs


def _is_strongest(direction, weights, mine, rival):
    """At unit `direction`, does `rival` have the largest cosine among the classes other than `mine`?"""
    cosines = np.cos(direction - np.arctan2(weights[1], weights[0]))
    others = np.delete(np.arange(weights.shape[1]), [mine, rival])
    return bool(others.size == 0 or cosines[rival] >= cosines[others].max() - _TIE)


def angular_boundaries(weights, m=1, lam=0.0, target=None):
    """The modified (m = 1), A-Softmax (m ≥ 2) or, with `target` (`BoundarySpec.target()`), a scaled variant's
    boundaries between angular neighbours, as `AngularBoundary`s."""
    _check_margin(m, lam)
    w = _check_weights(weights)
    result = []
    for i, j, start, width in neighbour_arcs(w):
        offset = margin_offset(width, m, lam, target)
        angle_i, angle_j = start + offset, start + width - offset
        if m == 1 and target is None:
            angle_j = angle_i
        result.append(AngularBoundary(
            i, j, start, width, angle_i, angle_j,
            real_i=_is_strongest(angle_i, w, i, j), real_j=_is_strongest(angle_j, w, j, i),
        ))
    return result


def original_boundaries(weights, bias, box):
    """The real parts of the lines (Wᵢ − Wⱼ)·x + bᵢ − bⱼ = 0 inside `box` = (x0, x1, y0, y1), as `LineBoundary`s.

    For each pair i < j the points of the line where zᵢ = zⱼ ≥ zₖ for all k (z: logits
    W·x + b) and inside the box form one segment or nothing (every condition is
    affine along the line); segments shorter than 1e-9 of the box are left out. Pairs
    with equal weights have no line (one class wins everywhere, or both tie).
    """
    w = _check_weights(weights, directions=False)
    num_classes = w.shape[1]
    b = np.zeros(num_classes) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    if b.shape != (num_classes,) or not np.all(np.isfinite(b)):
        raise ValueError(f"bias must be {num_classes} finite numbers, got shape {np.shape(bias)}")
    x0, x1, y0, y1 = (float(v) for v in box)
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ValueError(f"box must be finite (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {box!r}")
    size = max(x1 - x0, y1 - y0)
    result = []
    for i in range(num_classes):
        for j in range(i + 1, num_classes):
            normal = w[:, i] - w[:, j]
            length = np.linalg.norm(normal)
            if length <= 1e-12 * max(1.0, np.abs(w).max()):
                continue
            along = np.array([-normal[1], normal[0]]) / length
            origin = -(b[i] - b[j]) * normal / length**2  # the line: origin + s·along
            # conditions a + c·s >= 0: z_i − z_k for the other classes, then the box's four sides
            others = [k for k in range(num_classes) if k not in (i, j)]
            a = [(w[:, i] - w[:, k]) @ origin + b[i] - b[k] for k in others]
            c = [(w[:, i] - w[:, k]) @ along for k in others]
            flat = [1e-12 * np.linalg.norm(w[:, i] - w[:, k]) for k in others]  # parallel to the line
            a += [origin[0] - x0, x1 - origin[0], origin[1] - y0, y1 - origin[1]]
            c += [along[0], -along[0], along[1], -along[1]]
            flat += [1e-15] * 4
            tie = _TIE * max(1.0, np.abs(b).max(), np.abs(w).max() * size)
            lo, hi, empty = -np.inf, np.inf, False
            for ak, ck, fk in zip(a, c, flat):
                if abs(ck) <= fk:
                    empty |= ak < -tie
                elif ck > 0:
                    lo = max(lo, -ak / ck)
                else:
                    hi = min(hi, -ak / ck)
            if empty or not hi - lo > 1e-9 * size:
                continue
            result.append(LineBoundary(i, j, origin + lo * along, origin + hi * along))
    return result
