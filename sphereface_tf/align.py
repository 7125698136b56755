"""Moved to `sphereface_tf.face.align`; this name keeps old imports working."""

from sphereface_tf.face.align import *  # noqa: F401,F403
