"""The scaled variants that followed SphereFace (NormFace, CosFace, ArcFace, SphereFace-R) against their formulas."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from sphereface_tf import SoftmaxHead
from sphereface_tf.layers import DEFAULT_MARGIN, DEFAULT_SCALE, SCALED_VARIANTS, VARIANTS
from tests.conftest import loss_and_grads
from tests.reference import scaled_head_ref, softmax_ce_ref

pytestmark = pytest.mark.core
SETTINGS = [("normface", 16.0, None), ("cosface", 30.0, 0.35), ("arcface", 64.0, 0.5), ("sphereface_r", 30.0, 1.5),
            ("sphereface_r", 20.0, 2.7), ("arcface", 10.0, 1.2), ("cosface", 8.0, 0.0)]


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


def _head(kernel, dtype=None, **kwargs):
    head = SoftmaxHead(kernel.shape[1], dtype=dtype, **kwargs)
    head.build((None, kernel.shape[0]))
    head.kernel.assign(kernel.astype(head.kernel.dtype))
    return head


def _batch(dim=8, classes=7, n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(dim, classes)), rng.normal(size=(n, dim)) * rng.uniform(0.1, 5, (n, 1)), rng.integers(0, classes, n)


def test_the_family_is_in_variants_with_the_papers_defaults():
    assert VARIANTS[:3] == ("original", "modified", "angular") and set(SCALED_VARIANTS) <= set(VARIANTS)
    assert DEFAULT_SCALE == {"normface": 30.0, "cosface": 64.0, "arcface": 64.0, "sphereface_r": 30.0}
    assert DEFAULT_MARGIN == {"cosface": 0.35, "arcface": 0.5, "sphereface_r": 1.5}
    for variant in SCALED_VARIANTS:
        head = SoftmaxHead(5, variant=variant)
        assert head.scale == DEFAULT_SCALE[variant] and head.margin == DEFAULT_MARGIN.get(variant)


@pytest.mark.parametrize("variant, scale, margin", SETTINGS)
def test_training_and_inference_logits_match_the_float64_formula(variant, scale, margin):
    kernel, x, labels = _batch()
    head = _head(kernel, dtype="float64", variant=variant, scale=scale, margin=margin)
    got = _np(head([x, labels], training=True))
    exact = got.dtype == np.float64  # JAX without x64 computes in float32
    np.testing.assert_allclose(got, scaled_head_ref(x, kernel, labels, variant=variant, scale=scale, margin=margin),
                               rtol=1e-6 if exact else 1e-4, atol=1e-4 * scale)  # sphereface_r: θ from cos clipped 1e-5 inside ±1
    for inference in (head(x), head([x, labels], training=False), head([x, None], training=True)):
        np.testing.assert_allclose(_np(inference), scaled_head_ref(x, kernel, variant="normface", scale=scale),
                                   rtol=1e-9 if exact else 1e-5, atol=1e-9 if exact else 1e-5 * scale)


@pytest.mark.parametrize("variant, scale, margin", SETTINGS)
def test_float32_training_logits_and_loss_match_the_formula(variant, scale, margin):
    kernel, x, labels = _batch(seed=1)
    head = _head(kernel.astype(np.float32), variant=variant, scale=scale, margin=margin)
    got = _np(head([x.astype(np.float32), labels], training=True))
    want = scaled_head_ref(x.astype(np.float32), kernel.astype(np.float32), labels, variant=variant, scale=scale, margin=margin)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-3 * scale)
    loss, _, _ = loss_and_grads(head, x.astype(np.float32), labels)
    assert loss == pytest.approx(softmax_ce_ref(want, labels), rel=1e-3, abs=1e-3)


@pytest.mark.parametrize("variant, margin", [("cosface", 0.35), ("arcface", 0.5), ("arcface", 1.2), ("sphereface_r", 1.5),
                                             ("sphereface_r", 4.0)])
def test_the_target_logit_falls_monotonically_from_theta_0_to_pi_and_stays_below_cos(variant, margin):
    theta = np.linspace(0.0, np.pi, 2001)
    kernel = np.array([[1.0, 0.0], [0.0, 1.0]])
    x = np.stack([np.cos(theta), np.sin(theta)], 1) * 3.0
    head = _head(kernel, dtype="float64", variant=variant, scale=1.0, margin=margin)
    target = _np(head([x, np.zeros(len(x), int)], training=True))[:, 0]
    slack = 1e-9 if target.dtype == np.float64 else 2e-6  # JAX without x64 computes in float32
    assert np.all(np.diff(target) <= slack), "a target logit that rises again rewards a larger angle"
    assert np.all(target <= np.cos(theta) + slack)
    if variant == "arcface":  # past θ = π − M it is insightface's cos θ − M sin M, not the rising cos(θ + M)
        past = theta > np.pi - margin + 1e-3
        np.testing.assert_allclose(target[past], np.cos(theta[past]) - margin * math.sin(margin), atol=slack * 10)


def _singular_batch():
    """Features at θ = 0 and θ = π from their class weight exactly, zero and tiny features, a zero weight column."""
    kernel = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    x = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 0.0], [1e-30, 0.0], [0.0, 2.0], [0.0, -2.0], [0.0, 0.0]], np.float32)
    return kernel, x, np.array([0, 0, 0, 0, 1, 1, 2])


@pytest.mark.parametrize("variant", SCALED_VARIANTS)
@pytest.mark.parametrize("policy", [None, "mixed_float16", "mixed_bfloat16"])
def test_values_and_gradients_are_finite_at_theta_0_and_pi_and_zero_features(variant, policy):
    kernel, x, labels = _singular_batch()
    if policy == "mixed_float16":  # s / ‖x‖ at zero features (1e-6 floor) is far past float16's 65,504: θ = 0 and π only
        x, labels = x[[0, 1, 4, 5]], labels[[0, 1, 4, 5]]
    if policy:
        keras.config.set_dtype_policy(policy)
    head = _head(kernel, variant=variant)
    feed = x.astype(keras.config.dtype_policy().compute_dtype) if policy else x
    logits = _np(head([feed, labels], training=True))
    assert logits.dtype == np.float32 and np.isfinite(logits).all()  # float32 logits under mixed precision
    assert np.abs(logits).max() <= head.scale * 3 + 1e-3
    loss, dx, dw = loss_and_grads(head, feed, labels)
    assert np.isfinite(loss) and np.isfinite(dx).all() and len(dw) == 1 and np.isfinite(dw[0]).all()


def test_sphereface_r_detaches_the_margin_so_its_gradient_is_that_of_s_cos():
    """OpenSphere's characteristic gradient detachment: the margin moves the value, not the gradient."""
    kernel, x, labels = _batch(dim=4, classes=5, n=16, seed=3)
    kernel, x = kernel.astype(np.float32), x.astype(np.float32)
    head = _head(kernel, variant="sphereface_r", scale=30.0, margin=1.5)
    _, dx, dw = loss_and_grads(head, x, labels)
    logits = _np(head([x, labels], training=True))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    # d loss / d cos_j = s (p_j − onehot_j) / N; cos_j = x̂ · ŵ_j: the chain rule through the two normalisations
    upstream = 30.0 * (probs - np.eye(5)[labels]) / len(x)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    w_hat = kernel / np.linalg.norm(kernel, axis=0)
    x_hat = x / norms
    d_xhat = upstream @ w_hat.T
    want_dx = (d_xhat - np.sum(d_xhat * x_hat, 1, keepdims=True) * x_hat) / norms
    np.testing.assert_allclose(dx, want_dx, rtol=2e-3, atol=1e-5)
    assert dw[0].shape == kernel.shape and np.isfinite(dw[0]).all()


@pytest.mark.parametrize("variant", SCALED_VARIANTS)
def test_config_round_trip_keeps_scale_and_margin(variant):
    kernel, x, labels = _batch(seed=2)
    head = _head(kernel.astype(np.float32), variant=variant, scale=12.5, margin=None if variant == "normface" else
                 {"cosface": 0.2, "arcface": 0.3, "sphereface_r": 2.5}[variant])
    config = head.get_config()
    again = SoftmaxHead.from_config(config)
    assert again.get_config() == config and (again.scale, again.margin) == (head.scale, head.margin)
    again.build((None, kernel.shape[0]))
    again.kernel.assign(head.kernel)
    np.testing.assert_array_equal(_np(again([x, labels], training=True)), _np(head([x, labels], training=True)))


def test_a_saved_model_of_a_scaled_variant_loads_with_its_margin(tmp_path):
    kernel, x, labels = _batch(seed=4)
    features, targets = keras.Input((8,)), keras.Input((), dtype="int32")
    model = keras.Model([features, targets], SoftmaxHead(7, variant="arcface", scale=32.0, margin=0.4)([features, targets], training=True))
    model.save(tmp_path / "arc.keras")
    loaded = keras.models.load_model(tmp_path / "arc.keras")
    head = loaded.layers[-1]
    assert (head.variant, head.scale, head.margin) == ("arcface", 32.0, 0.4)
    np.testing.assert_allclose(_np(loaded([x, labels])), _np(model([x, labels])), rtol=1e-6)


def test_the_paper_variants_keep_their_config_keys():
    assert "scale" not in SoftmaxHead(5, variant="angular").get_config()


@pytest.mark.parametrize("kwargs, words", [
    (dict(variant="cosface", scale=0.0), "`scale` must be a finite number > 0"),
    (dict(variant="arcface", scale=float("inf")), "`scale` must be a finite number > 0"),
    (dict(variant="cosface", margin=1.0), "`margin` of 'cosface' must be a number in [0, 1)"),
    (dict(variant="arcface", margin=-0.1), "`margin` of 'arcface' must be a number in [0, π/2) radians"),
    (dict(variant="sphereface_r", margin=0.5), "`margin` of 'sphereface_r' must be a number in [1, 16)"),
    (dict(variant="normface", margin=0.2), "'normface' has none"),
    (dict(variant="angular", scale=30.0), "the 'angular' variant has neither"),
    (dict(variant="modified", margin=0.3), "the 'modified' variant has neither"),
    (dict(variant="cosface", m=4), "`m=4` needs variant='angular'"),
])
def test_bad_scale_or_margin_is_refused_by_name(kwargs, words):
    with pytest.raises(ValueError) as error:
        SoftmaxHead(5, **kwargs)
    assert words in str(error.value)
