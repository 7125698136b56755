"""ψ, the Chebyshev form and the λ schedule against the float64 reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from sphereface_tf import annealed_lambda, chebyshev_cos_multiple, psi
from tests.reference import lambda_ref, psi_ref

pytestmark = pytest.mark.core
MARGINS = range(1, 7)


def _np(t):
    """As NumPy, keeping the dtype the backend computed in."""
    return np.asarray(ops.convert_to_numpy(t))


def _tolerance(values):
    # float64 where the backend keeps it (TensorFlow), float32 otherwise (JAX
    # without x64): cos rounding is amplified at most by |T_m'| <= m^2 = 36.
    return 1e-12 if values.dtype == np.float64 else 2e-6


def _angles(m, n_random=2000, seed=0):
    rng = np.random.default_rng(seed)
    boundaries = np.arange(m + 1) * np.pi / m  # includes θ = 0 and θ = π (cos = ±1)
    return np.concatenate([rng.uniform(0, np.pi, n_random), boundaries])


@pytest.mark.parametrize("m", range(0, 8))
def test_chebyshev_equals_cos_m_theta(m):
    theta = _angles(max(m, 1))
    got = _np(chebyshev_cos_multiple(ops.convert_to_tensor(np.cos(theta)), m))
    np.testing.assert_allclose(got, np.cos(m * theta), atol=_tolerance(got) * 10)


@pytest.mark.parametrize("m", MARGINS)
def test_psi_matches_reference_including_boundaries(m):
    theta = _angles(m)
    cos = ops.convert_to_tensor(np.cos(theta))
    got = _np(psi(cos, m))
    want = psi_ref(theta, m)
    np.testing.assert_allclose(got, want, atol=_tolerance(got) * 10, rtol=0)


@pytest.mark.parametrize("m", MARGINS)
def test_psi_end_points(m):
    got = _np(psi(ops.convert_to_tensor(np.array([1.0, -1.0])), m))
    np.testing.assert_allclose(got, [1.0, 1.0 - 2.0 * m], atol=1e-6)


def test_psi_with_m_1_is_cos():
    c = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(_np(psi(ops.convert_to_tensor(c), 1)), c, atol=1e-6)


@pytest.mark.parametrize("m", MARGINS)
def test_psi_monotonic_and_continuous_on_dense_grid(m):
    theta = np.linspace(0.0, np.pi, 20001)
    values = _np(psi(ops.convert_to_tensor(np.cos(theta)), m))
    steps = np.diff(values)
    tol = _tolerance(values) * 10
    assert steps.max() <= tol, "ψ must never increase with θ"
    # |dψ/dθ| = m |sin(mθ)| <= m: a wrong k shows up as a jump of ~2.
    assert np.abs(steps).max() <= m * np.diff(theta).max() + tol


@settings(max_examples=300, deadline=None)
@given(
    m=st.integers(1, 6),
    a=st.floats(0.0, math.pi, allow_nan=False),
    b=st.floats(0.0, math.pi, allow_nan=False),
)
def test_psi_decreasing_and_lipschitz_property(m, a, b):
    lo, hi = min(a, b), max(a, b)
    values = _np(psi(ops.convert_to_tensor(np.cos(np.array([lo, hi]))), m))
    tol = _tolerance(values) * 10
    assert values[0] >= values[1] - tol
    assert abs(values[0] - values[1]) <= m * (hi - lo) + tol


@pytest.mark.parametrize(
    "base,gamma,power,minimum",
    [(1000.0, 0.12, 1.0, 5.0), (1500.0, 0.01, 2.0, 0.0), (0.0, 0.12, 1.0, 0.0), (10.0, 1.0, 0.5, 3.0)],
)
@pytest.mark.parametrize("step", [0, 1, 7, 100, 1000, 28000])
def test_lambda_schedule_matches_formula(base, gamma, power, minimum, step):
    want = lambda_ref(step, base, gamma, power, minimum)
    assert annealed_lambda(step, base, gamma, power, minimum) == pytest.approx(want, rel=1e-12)
    got_tensor = float(_np(annealed_lambda(ops.convert_to_tensor(step), base, gamma, power, minimum)))
    assert got_tensor == pytest.approx(want, rel=1e-5)


def test_official_lambda_reaches_floor():
    # Caffe defaults: base 1000, gamma 0.12, power 1, min 5 → floor once 1000/(1+0.12 t) < 5.
    assert annealed_lambda(1657) > 5.0
    assert annealed_lambda(1659) == 5.0
