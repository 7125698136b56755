"""Moved to `sphereface_tf.face.data`; this name keeps old imports working."""

from sphereface_tf.face.data import *  # noqa: F401,F403
from sphereface_tf.face.data import __all__, training_input  # noqa: F401
