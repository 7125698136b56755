"""Moved to `sphereface_tf.viz.stats` (unit_rows to `sphereface_tf.angles`); this name keeps old imports working."""

from sphereface_tf.angles import unit_rows  # noqa: F401
from sphereface_tf.viz.stats import HISTOGRAM_BINS, angle_statistics  # noqa: F401
