"""Moved to `sphereface_tf.face.data.sources`; this name keeps old imports working."""

from sphereface_tf.face.data.sources import *  # noqa: F401,F403
