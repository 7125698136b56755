"""Face training's callbacks never make `fit` wait for a step (Keras' rule for async dispatch)."""

import keras
import pytest
from keras.src import utils

from sphereface_tf.commands.face_train import after_steps, hard_kill
from sphereface_tf.face.training import SCHEMA, training_callbacks

pytestmark = pytest.mark.core


def _blocking(callbacks):
    """Names of the callbacks with a batch-end hook that Keras must wait for (its own test, in CallbackList)."""
    return [type(cb).__name__ for cb in callbacks if not getattr(cb, "async_safe", False)
            and not (utils.is_default(cb.on_train_batch_end) and utils.is_default(cb.on_batch_end))]


def test_no_callback_of_a_run_has_a_batch_end_hook(tmp_path):
    settings = dict(SCHEMA.defaults(), batch_size=16, steps=6, out=str(tmp_path), log_every=2)
    callbacks, timer = training_callbacks(settings, str(tmp_path / "backup"))
    assert len(callbacks) >= 6 and timer in callbacks
    assert _blocking(callbacks) == []
    # the kill hook of the tests does block, and the check above sees it (on either backend)
    hooked, _ = training_callbacks(settings, str(tmp_path / "backup"), [after_steps(3, hard_kill)])
    assert _blocking(hooked) == ["AfterSteps"]
    if keras.config.backend() == "jax":  # the backend that dispatches asynchronously: Keras agrees
        assert keras.callbacks.CallbackList(callbacks)._async_train
        assert not keras.callbacks.CallbackList(hooked)._async_train
