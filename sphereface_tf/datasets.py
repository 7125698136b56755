"""Moved to `sphereface_tf.mnist.data`; this name keeps old imports working."""

from sphereface_tf.mnist.data import *  # noqa: F401,F403
