"""SoftmaxHead: values against the float64 reference, gradients, dtypes, errors, config."""

import keras
import numpy as np
import pytest
from keras import ops

from sphereface_tf import SoftmaxHead, annealed_lambda, class_angles
from tests.conftest import loss_and_grads
from tests.reference import head_ref, lambda_ref, softmax_ce_ref

pytestmark = pytest.mark.core


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


def _built_head(kernel, bias=None, **kwargs):
    kernel = np.asarray(kernel, np.float32)
    head = SoftmaxHead(kernel.shape[1], **kwargs)
    head.build((None, kernel.shape[0]))
    head.kernel.assign(kernel)
    if bias is not None:
        head.bias.assign(np.asarray(bias, np.float32))
    return head


def _features_at_angles(kernel, labels, angles, radii):
    """2-D features at the given angle from their class weight (exact construction)."""
    w = kernel[:, labels] / np.linalg.norm(kernel[:, labels], axis=0)
    rot = np.stack([np.cos(angles), np.sin(angles)])  # rotate w by `angles`
    x = np.stack([w[0] * rot[0] - w[1] * rot[1], w[0] * rot[1] + w[1] * rot[0]], axis=1)
    return (x * radii[:, None]).astype(np.float32)


def _boundary_batch(m, num_classes=5, seed=0):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(2, num_classes)).astype(np.float32)
    boundaries = np.arange(m + 1) * np.pi / m  # θ = kπ/m, with cos θ = ±1 at the ends
    angles = np.concatenate([boundaries, rng.uniform(0, np.pi, 64)])
    labels = rng.integers(0, num_classes, len(angles))
    radii = rng.uniform(0.1, 10.0, len(angles))
    return kernel, _features_at_angles(kernel, labels, angles, radii), labels


@pytest.mark.parametrize("m", range(1, 7))
@pytest.mark.parametrize("lam", [0.0, 5.0, 1000.0])
def test_angular_forward_matches_reference(m, lam):
    kernel, x, labels = _boundary_batch(m)
    head = _built_head(kernel, m=m, lambda_base=lam, lambda_min=lam)
    got = _np(head([x, labels], training=True))
    want = head_ref(x, kernel, labels, variant="angular", m=m, lam=lam)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-4)


def test_angular_forward_in_high_dimension():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(64, 11)).astype(np.float32)
    x = rng.normal(size=(128, 64)).astype(np.float32) * 3
    labels = rng.integers(0, 11, 128)
    head = _built_head(kernel, lambda_base=0.0, lambda_min=0.0)
    want = head_ref(x, kernel, labels, variant="angular", m=4, lam=0.0)
    np.testing.assert_allclose(_np(head([x, labels], training=True)), want, rtol=1e-5, atol=2e-4)


def test_original_and_modified_forward_match_reference():
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(6, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    x = rng.normal(size=(16, 6)).astype(np.float32)
    labels = rng.integers(0, 4, 16)
    original = _built_head(kernel, bias, variant="original")
    modified = _built_head(kernel, variant="modified")
    for training in (False, True):
        np.testing.assert_allclose(
            _np(original([x, labels], training=training)),
            head_ref(x, kernel, bias=bias, variant="original"),
            rtol=1e-5, atol=1e-5,
        )
        np.testing.assert_allclose(
            _np(modified([x, labels], training=training)),
            head_ref(x, kernel, variant="modified"),
            rtol=1e-5, atol=1e-5,
        )


def test_inference_path_has_no_margin_and_does_not_count_steps():
    kernel, x, labels = _boundary_batch(4)
    head = _built_head(kernel)
    want = head_ref(x, kernel, variant="modified")
    np.testing.assert_allclose(_np(head(x)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(head([x, labels], training=False)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(head([x, labels])), want, rtol=1e-5, atol=1e-5)
    assert int(_np(head.iterations)) == 0


def test_m_equal_1_equals_modified():
    kernel, x, labels = _boundary_batch(3)
    angular = _built_head(kernel, m=1)
    modified = _built_head(kernel, variant="modified")
    np.testing.assert_allclose(
        _np(angular([x, labels], training=True)), _np(modified([x, labels], training=True)), atol=1e-5
    )


def test_margin_makes_target_logit_smaller():
    """ψ(θ) <= cos θ: the margin can only lower the target logit."""
    kernel, x, labels = _boundary_batch(4)
    head = _built_head(kernel, lambda_base=0.0, lambda_min=0.0)
    plain = _np(head(x))
    margin = _np(head([x, labels], training=True))
    rows = np.arange(len(labels))
    assert np.all(margin[rows, labels] <= plain[rows, labels] + 1e-5)
    off_target = np.ones_like(plain, dtype=bool)
    off_target[rows, labels] = False
    np.testing.assert_array_equal(margin[off_target], plain[off_target])


def test_lambda_annealing_per_step():
    kernel, x, labels = _boundary_batch(4)
    params = dict(lambda_base=100.0, lambda_gamma=0.5, lambda_power=1.5, lambda_min=2.0)
    head = _built_head(kernel, **params)
    assert head.current_lambda() == pytest.approx(100.0)
    for step in range(1, 8):
        got = _np(head([x, labels], training=True))
        lam = lambda_ref(step, 100.0, 0.5, 1.5, 2.0)
        # The step uses λ_t with t counting the current step, as Caffe's iter_ += 1 first.
        np.testing.assert_allclose(got, head_ref(x, kernel, labels, variant="angular", lam=lam), rtol=1e-5, atol=2e-4)
        assert int(_np(head.iterations)) == step
        assert head.current_lambda() == pytest.approx(lam, rel=1e-6)
    assert head.current_lambda() == pytest.approx(annealed_lambda(7, **{
        "base": 100.0, "gamma": 0.5, "power": 1.5, "minimum": 2.0}), rel=1e-6)


def test_non_angular_variants_report_zero_lambda():
    assert SoftmaxHead(3, variant="modified").current_lambda() == 0.0


# ----------------------------------------------------------------- gradients
def _numeric_grad_x(x, kernel, labels, lam, m, eps=1e-6):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        f = lambda z: softmax_ce_ref(head_ref(z, kernel, labels, variant="angular", m=m, lam=lam), labels)  # noqa: E731
        grad[idx] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("m", [2, 3, 4])
def test_gradient_matches_finite_differences(m):
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 4)).astype(np.float32)
    x = rng.normal(size=(6, 3)).astype(np.float32) * 2
    labels = rng.integers(0, 4, 6)
    head = _built_head(kernel, m=m, lambda_base=0.5, lambda_min=0.5)
    loss, dx, _ = loss_and_grads(head, x, labels)
    assert loss == pytest.approx(softmax_ce_ref(head_ref(x, kernel, labels, variant="angular", m=m, lam=0.5), labels), rel=1e-4)
    np.testing.assert_allclose(dx, _numeric_grad_x(x, kernel, labels, 0.5, m), rtol=2e-3, atol=2e-4)


def _hard_batch():
    """Features at cos θ = +1 and −1 exactly, zero features, tiny features, and a zero weight column."""
    kernel = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    x = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 0.0], [1e-30, 0.0], [0.0, 2.0], [0.0, 0.0]], np.float32)
    labels = np.array([0, 0, 0, 0, 2, 2])
    return kernel, x, labels


@pytest.mark.parametrize("variant", ["original", "modified", "angular"])
@pytest.mark.parametrize("policy", [None, "mixed_float16", "mixed_bfloat16"])
def test_gradients_finite_at_singular_points(variant, policy):
    kernel, x, labels = _hard_batch()
    if policy:
        keras.config.set_dtype_policy(policy)
    head = _built_head(kernel, variant=variant, lambda_base=0.0, lambda_min=0.0)
    feed = x.astype(keras.config.dtype_policy().compute_dtype) if policy else x
    logits = _np(head([feed, labels], training=True))
    assert logits.dtype == np.float32 and np.isfinite(logits).all()
    loss, dx, dw = loss_and_grads(head, feed, labels)
    assert np.isfinite(loss)
    assert len(dw) == len(head.trainable_variables) >= 1  # every weight's gradient, not none
    assert np.isfinite(dx).all() and all(np.isfinite(g).all() for g in dw)


def test_zero_features_give_zero_logits():
    kernel, x, labels = _hard_batch()
    head = _built_head(kernel, lambda_base=0.0, lambda_min=0.0)
    logits = _np(head([x, labels], training=True))
    np.testing.assert_array_equal(logits[2], 0.0)
    np.testing.assert_array_equal(logits[5], 0.0)


# -------------------------------------------------------------- dtype policy
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_policy_head_computes_in_float32_and_matches(policy):
    kernel, x, labels = _boundary_batch(4)
    reference = _np(_built_head(kernel)([x, labels], training=True))
    keras.config.set_dtype_policy(policy)
    head = _built_head(kernel)
    assert head.compute_dtype == "float32" and head.kernel.dtype == "float32"
    got = _np(head([x, labels], training=True))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_explicit_half_compute_keeps_float32_logits_without_overflow(policy):
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(32, 10)).astype(np.float32)
    x = rng.normal(size=(8, 32)).astype(np.float32) * 100.0  # ||x||² ≈ 3e5 > float16 max
    labels = rng.integers(0, 10, 8)
    head = _built_head(kernel, dtype=policy)
    assert head.compute_dtype == policy.split("_")[1]
    got = _np(head([x, labels], training=True))
    assert got.dtype == np.float32 and np.isfinite(got).all()
    want = head_ref(x, kernel, labels, variant="angular", lam=1000.0 / 1.12)
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2 * np.abs(want).max())


# ------------------------------------------------------------ configuration
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_classes=1), "num_classes"),
        (dict(num_classes=2.5), "num_classes"),
        (dict(num_classes=10, variant="adacos"), "variant.*original.*modified.*angular.*normface.*cosface.*arcface.*sphereface_r"),
        (dict(num_classes=10, m=0), "`m` must be an integer >= 1"),
        (dict(num_classes=10, m=2.5), "`m` must be an integer >= 1"),
        (dict(num_classes=10, variant="modified", m=4), "needs variant='angular'"),
        (dict(num_classes=10, variant="original", m=2), "needs variant='angular'"),
        (dict(num_classes=10, lambda_base=-1.0), "lambda_base"),
        (dict(num_classes=10, lambda_gamma=-0.1), "lambda_gamma"),
        (dict(num_classes=10, lambda_power=-1.0), "lambda_power"),
        (dict(num_classes=10, lambda_min=float("nan")), "lambda_min"),
    ],
)
def test_bad_configuration_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxHead(**kwargs)


def test_m_defaults_per_variant():
    assert SoftmaxHead(3).m == 4
    assert SoftmaxHead(3, variant="modified").m == 1
    assert SoftmaxHead(3, variant="original", m=1).m == 1


def test_features_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"features of shape \(batch, dim\)"):
        SoftmaxHead(3).build((None, 4, 4))


def test_float_labels_are_rejected():
    kernel, x, labels = _boundary_batch(4)
    with pytest.raises(TypeError, match="integer class indices"):
        _built_head(kernel)([x, labels.astype(np.float32)], training=True)


@pytest.mark.parametrize("bad", [-1, 5, 100])
def test_out_of_range_labels_are_rejected_eagerly(bad):
    kernel, x, labels = _boundary_batch(4)
    labels = labels.copy()
    labels[3] = bad
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\).*" + str(bad)):
        _built_head(kernel)([x, labels], training=True)


def test_config_round_trip_and_registration():
    head = SoftmaxHead(7, m=3, lambda_base=10.0, lambda_min=1.0, kernel_regularizer="l2", name="head")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(head))
    assert isinstance(clone, SoftmaxHead)
    assert clone.get_config() == head.get_config()
    assert keras.saving.get_registered_name(SoftmaxHead) == "sphereface_tf>SoftmaxHead"


def test_functional_model_and_output_shape(tmp_path):
    features = keras.Input((5,))
    labels = keras.Input((), dtype="int32")
    head = SoftmaxHead(4, lambda_base=3.0, lambda_min=1.0)
    train_model = keras.Model([features, labels], head([features, labels]))
    infer_model = keras.Model(features, head(features))
    assert tuple(train_model.output.shape) == (None, 4)
    assert head.compute_output_shape([(None, 5), (None,)]) == (None, 4)
    x = np.random.default_rng(5).normal(size=(9, 5)).astype(np.float32)
    y = np.arange(9) % 4
    train_model([x, y], training=True)
    train_model([x, y], training=True)
    path = tmp_path / "model.keras"
    train_model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode on by default
    loaded_head = loaded.layers[-1]
    assert int(_np(loaded_head.iterations)) == 2
    assert loaded_head.current_lambda() == pytest.approx(head.current_lambda())
    np.testing.assert_array_equal(_np(loaded([x, y])), _np(train_model([x, y])))
    np.testing.assert_allclose(_np(infer_model(x)), _np(loaded([x, y])), rtol=1e-6)


def test_class_angles():
    weights = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]])
    features = np.array([[1.0, 1.0], [0.0, 0.0]])
    angles = class_angles(features, weights)
    np.testing.assert_allclose(angles[0], [np.pi / 4, np.pi / 4, 3 * np.pi / 4])
    np.testing.assert_allclose(angles[1], np.pi / 2)
    head = _built_head(weights)
    np.testing.assert_allclose(head.class_angles(features), angles, atol=1e-6)
    with pytest.raises(ValueError, match=r"features \(N, D\) and weights \(D, C\)"):
        class_angles(features, weights.T)
