"""Moved to `sphereface_tf.util.cli`; this name keeps old imports working."""

from sphereface_tf.util.cli import Terminated, error_line, main, positive_int, run  # noqa: F401
