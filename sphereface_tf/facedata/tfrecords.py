"""Moved to `sphereface_tf.face.data.tfrecords`; this name keeps old imports working."""

from sphereface_tf.face.data.tfrecords import *  # noqa: F401,F403
