"""face/train.py's callbacks never make `fit` wait for a step (Keras' rule for async dispatch)."""

import argparse
import importlib.util
import os

import pytest

import keras

pytestmark = pytest.mark.core
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train_module():
    spec = importlib.util.spec_from_file_location("face_train", os.path.join(REPO, "face", "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(tmp_path):
    return argparse.Namespace(batch_size=16, steps=6, out=str(tmp_path), log_every=2, crash_after_steps=None,
                              interrupt_after_steps=None)


def test_no_callback_of_a_run_has_a_batch_end_hook(tmp_path):
    from keras.src import utils

    callbacks, _ = _train_module().training_callbacks(_args(tmp_path), str(tmp_path / "backup"))
    blocking = [type(cb).__name__ for cb in callbacks if not getattr(cb, "async_safe", False)
                and not (utils.is_default(cb.on_train_batch_end) and utils.is_default(cb.on_batch_end))]
    assert blocking == []
    listed = keras.callbacks.CallbackList(callbacks)
    if keras.config.backend() == "jax":  # the backend that dispatches asynchronously
        assert listed._async_train
    # the kill hook of the tests does block, and Keras sees it
    args = _args(tmp_path)
    args.crash_after_steps = 3
    hooked, _ = _train_module().training_callbacks(args, str(tmp_path / "backup"))
    if keras.config.backend() == "jax":
        assert not keras.callbacks.CallbackList(hooked)._async_train
