"""Moved to `sphereface_tf.face.export`; this name keeps old imports working."""

from sphereface_tf.face.export import *  # noqa: F401,F403
