"""Moved to `sphereface_tf.util` (files, modelfiles, progress, faults); this name keeps old imports working."""

from sphereface_tf.util.faults import fault_point  # noqa: F401
from sphereface_tf.util.files import atomic_write, save_figure, write_json  # noqa: F401
from sphereface_tf.util.modelfiles import save_model  # noqa: F401
from sphereface_tf.util.progress import ProgressBar  # noqa: F401
