"""Moved to `sphereface_tf.training.distribute`; this name keeps old imports working."""

from sphereface_tf.training.distribute import *  # noqa: F401,F403
