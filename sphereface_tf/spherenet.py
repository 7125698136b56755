"""Moved to `sphereface_tf.face.spherenet`; this name keeps old imports working."""

from sphereface_tf.face.spherenet import *  # noqa: F401,F403
