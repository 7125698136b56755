"""Moved to `sphereface_tf.face.synthetic` (benchmarks and the LFW benchmark test use it too)."""

from sphereface_tf.face.synthetic import *  # noqa: F401,F403
