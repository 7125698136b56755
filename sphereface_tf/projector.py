"""Moved to `sphereface_tf.viz.projector`; this name keeps old imports working."""

from sphereface_tf.viz.projector import *  # noqa: F401,F403
