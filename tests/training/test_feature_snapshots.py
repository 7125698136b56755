"""FeatureSnapshots: each frame holds the features and class weights the model had at that epoch."""

import keras
import numpy as np
import pytest

from sphereface_tf.head import attach_head
from sphereface_tf.layers import SoftmaxHead
from sphereface_tf.training.callbacks import FeatureSnapshots


def _tiny(variant):
    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)], name="tiny")
    kwargs = dict(m=2, lambda_base=100.0, lambda_gamma=0.5, lambda_power=1.0, lambda_min=1.0) if variant == "angular" else {}
    head = SoftmaxHead(4, variant=variant, name="softmax_head", **kwargs)
    model, _ = attach_head(backbone, head, name="tiny_model")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return backbone, head, model


@pytest.mark.parametrize("variant", ["angular", "modified"])
def test_each_frame_is_the_model_at_that_epoch(variant):
    backbone, head, model = _tiny(variant)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)).astype("float32"), np.arange(64) % 4
    watched = x[:10]
    states = []  # independent record: the weights after each epoch, replayed below

    def keep(epoch, logs=None):
        if hasattr(model, "jax_state_sync"):
            model.jax_state_sync()
        states.append(([v.numpy() if hasattr(v, "numpy") else np.asarray(v) for v in backbone.get_weights()],
                       np.asarray(keras.ops.convert_to_numpy(head.kernel)), head.current_lambda()))

    snapshots = FeatureSnapshots(backbone, watched, head=head)
    initial = backbone.predict(watched, verbose=0)
    model.fit([x, y], y, batch_size=16, epochs=3, verbose=0, shuffle=False,
              callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=keep), snapshots])
    frames = snapshots.frames
    assert [f.epoch for f in frames] == [0, 1, 2, 3]
    np.testing.assert_allclose(frames[0].features, initial, rtol=1e-5, atol=1e-6)  # before any step
    for frame, (backbone_weights, kernel, lam) in zip(frames[1:], states):
        backbone.set_weights(backbone_weights)
        np.testing.assert_allclose(frame.features, backbone.predict(watched, verbose=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(frame.weights, kernel, rtol=0, atol=0)
        assert frame.lam == (pytest.approx(lam) if variant == "angular" else None)
    assert not np.allclose(frames[1].features, frames[3].features)  # the frames differ: training moved the features
    if variant == "angular":
        assert frames[0].lam == pytest.approx(100.0) and frames[3].lam < frames[1].lam
