"""TensorFlow CPU fast paths for the two layers SphereNet and the MNIST CNN are made of (3×3 convolutions, PReLU).

Measured on a 2-core CPU (bench/profile_face_step.py, SphereNet-20, batch 32), most of a training
step is the convolutions' backward pass, and TensorFlow's CPU kernel for a convolution's *input*
gradient (Conv2DBackpropInput, Eigen) costs 1.2–3× the forward convolution of the same size.
For a stride-1 "same" convolution that gradient *is* a forward convolution: of the output
gradient with the kernel flipped in space and its in/out channels swapped. Keras' PReLU is
relu(x) − α·relu(−x): four elementwise passes forward and as many backward over every
activation; `where(x < 0, αx, x)` with its gradient written out is one pass each way.

`accelerate(model)` swaps these two computations into the layers of a built model *per
instance* (the layer's `convolution_op` / `call`), on the TensorFlow backend with no GPU only.
The layer classes, weights and configs are unchanged: a saved model is a plain Keras model that
loads anywhere, and values and gradients equal the stock layers' to float rounding
(tests/core/test_fastpath.py). On a GPU, cuDNN's kernels are used as before. `spherenet()` and
`mnist_cnn()` call it on every model they build; `SPHEREFACE_FAST_PATHS=0` turns it off.
"""

import functools
import os

import keras

PATCHED = "_sphereface_fast_path"


def _tf():
    import tensorflow as tf

    return tf


def available():
    """True where the fast paths apply: the TensorFlow backend on a machine without a GPU.

    `SPHEREFACE_FAST_PATHS=0` in the environment turns them off (the stock layers' kernels, e.g. to compare).
    """
    if os.environ.get("SPHEREFACE_FAST_PATHS", "1") == "0" or keras.backend.backend() != "tensorflow":
        return False
    return not _tf().config.list_logical_devices("GPU")


@functools.cache
def _conv3x3_same():
    tf = _tf()

    @tf.custom_gradient
    def conv(x, w):
        def grad(g):
            flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])
            dx = tf.nn.conv2d(g, flipped, 1, "SAME")
            dw = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(w), out_backprop=g,
                                                 strides=[1, 1, 1, 1], padding="SAME")
            return dx, dw

        return tf.nn.conv2d(x, w, 1, "SAME"), grad

    # a variable goes in as its value (custom_gradient differentiates its inputs, not variables it reads)
    return lambda x, kernel: conv(x, tf.convert_to_tensor(kernel))


@functools.cache
def _prelu(axes):
    """The fused PReLU whose α is shared over `axes` (a tuple, the batch axis 0 first)."""
    tf = _tf()

    @tf.custom_gradient
    def prelu(x, alpha):
        negative = x < 0

        def grad(g):
            dx = tf.where(negative, alpha * g, g)
            dalpha = tf.reduce_sum(tf.where(negative, x * g, tf.zeros_like(g)), axis=list(axes), keepdims=True)
            return dx, tf.reshape(dalpha, tf.shape(alpha))

        return tf.where(negative, alpha * x, x), grad

    return prelu


def _fast_conv(layer):
    return (isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose)
            and tuple(layer.kernel_size) == (3, 3) and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1) and layer.padding == "same" and layer.groups == 1
            and layer.data_format == "channels_last")


def _fast_prelu(layer):
    # the batch axis is never shared; the fast path reduces α's gradient over the shared axes and the batch
    return isinstance(layer, keras.layers.PReLU) and layer.built and len(layer.alpha.shape) >= 1


def accelerate(model):
    """Install the CPU fast paths into `model`'s eligible layers (in place); returns how many layers got one.

    Eligible: `Conv2D` 3×3, stride 1, "same", channels-last, ungrouped, undilated; `PReLU` (any
    shared axes). Does nothing (returns 0) off the TensorFlow backend or when a GPU is visible.
    Idempotent. Call it on a built model, before `compile`/`fit` trace the step.
    """
    if not available():
        return 0
    count = 0
    for layer in model._flatten_layers(include_self=False):
        if getattr(layer, PATCHED, False):
            continue
        if _fast_conv(layer):
            layer.convolution_op = _conv3x3_same()
        elif _fast_prelu(layer):
            rank = len(layer.alpha.shape) + 1
            shared = (0,) + tuple(axis for axis in range(1, rank) if layer.alpha.shape[axis - 1] == 1)
            layer.call = _prelu_call(layer, _prelu(shared))
        else:
            continue
        setattr(layer, PATCHED, True)
        count += 1
    return count


def _prelu_call(layer, prelu):
    def call(inputs):
        return prelu(inputs, _tf().cast(layer.alpha, inputs.dtype))

    return call
