"""Moved to `sphereface_tf.face.verification`; this name keeps old imports working."""

from sphereface_tf.face.verification import *  # noqa: F401,F403
