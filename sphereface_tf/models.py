"""Moved to `sphereface_tf.head` (attach_head) and `sphereface_tf.mnist.model`; this name keeps old imports working."""

from sphereface_tf.head import attach_head  # noqa: F401
from sphereface_tf.mnist.model import conv_prelu, mnist_cnn  # noqa: F401
