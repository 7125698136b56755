"""What the MNIST demo hands the 2-D figures as each head's decision boundaries (no training)."""

import json

import numpy as np
import pytest

from sphereface_tf.layers import SoftmaxHead
from sphereface_tf.mnist.demo import boundary_record, lambda_schedule
from sphereface_tf.viz.boundaries import as_spec


def _built(variant, **kwargs):
    head = SoftmaxHead(10, variant=variant, **kwargs)
    head.build((None, 2))
    return head


def test_boundary_record_per_variant():
    original = _built("original", bias_initializer="random_normal")
    record = boundary_record(original)
    assert record["variant"] == "original" and record["m"] == 1 and record["lam"] == 0.0
    np.testing.assert_allclose(record["bias"], np.asarray(original.bias), rtol=0, atol=0)  # the head's bias
    assert boundary_record(_built("modified")) == dict(variant="modified", m=1, lam=0.0, bias=None, lam_note=None, margin=None)
    angular = _built("angular", m=3, **lambda_schedule(100, 5.0, 0.5))
    angular.iterations.assign(100)  # as after a 100-step run: λ has reached its floor
    record = boundary_record(angular)
    assert record["m"] == 3 and record["bias"] is None and record["lam_note"] == "training's final λ"
    assert record["lam"] == pytest.approx(angular.current_lambda()) == pytest.approx(5.0)
    for head in (original, angular):  # JSON for metrics.json, and what the plots accept
        assert as_spec(json.loads(json.dumps(boundary_record(head)))).variant == head.variant


@pytest.mark.parametrize("variant, margin", [("normface", None), ("cosface", 0.35), ("arcface", 0.5), ("sphereface_r", 1.5)])
def test_a_scaled_variants_record_carries_its_margin_and_draws(variant, margin):
    record = boundary_record(_built(variant))
    assert record == dict(variant=variant, m=1, lam=0.0, bias=None, lam_note=None, margin=margin)
    spec = as_spec(json.loads(json.dumps(record)))
    assert spec.margin == margin and (spec.target() is None) == (variant == "normface")
