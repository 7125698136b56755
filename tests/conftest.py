import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Every test starts from the float32 policy, a fixed seed and TensorFlow's op determinism off (the demo turns it
    on process-wide, and with it Keras turns XLA off: a test must not depend on which tests ran before it in its
    process, as under pytest-xdist)."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    if keras.config.backend() == "tensorflow":
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()


def backend():
    return keras.config.backend()


def loss_and_grads(head, x, labels, training=True):
    """Mean sparse softmax cross-entropy of `head([x, labels])` and its gradients
    with respect to x and every trainable weight, on either backend.

    Returns (loss, dx, [d weight, ...]) as NumPy arrays.
    """
    non_trainable = [ops.convert_to_tensor(ops.convert_to_numpy(v)) for v in head.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    labels = np.asarray(labels)

    def f(x, trainable):
        logits, _ = head.stateless_call(trainable, non_trainable, [x, labels], training=training)
        return loss_fn(labels, logits)

    trainable = [ops.convert_to_tensor(ops.convert_to_numpy(v)) for v in head.trainable_variables]
    if backend() == "tensorflow":
        import tensorflow as tf

        x_t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch([x_t, *trainable])
            loss = f(x_t, trainable)
        dx, *dw = tape.gradient(loss, [x_t, *trainable])
    elif backend() == "jax":
        import jax

        loss, (dx, dw) = jax.value_and_grad(f, argnums=(0, 1))(ops.convert_to_tensor(x), trainable)
    else:  # pragma: no cover
        pytest.skip(f"no gradient helper for backend {backend()}")
    to_np = lambda t: np.asarray(ops.convert_to_numpy(ops.cast(t, "float32")))  # noqa: E731
    return float(to_np(loss)), to_np(dx), [to_np(g) for g in dw]
