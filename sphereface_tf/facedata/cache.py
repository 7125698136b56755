"""Moved to `sphereface_tf.face.data.cache`; this name keeps old imports working."""

from sphereface_tf.face.data.cache import *  # noqa: F401,F403
