"""Moved to `sphereface_tf.viz.plots` and `sphereface_tf.face.plots`; this name keeps old imports working."""

from sphereface_tf.face.plots import plot_pair_grid, plot_roc, plot_score_histogram  # noqa: F401
from sphereface_tf.viz.plots import *  # noqa: F401,F403
from sphereface_tf.viz.plots import opposite_view  # noqa: F401
