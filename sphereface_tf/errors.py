"""Moved to `sphereface_tf.util.errors` and `sphereface_tf.util.modelfiles`; this name keeps old imports working."""

from sphereface_tf.util.errors import ConfigError, InputError, ModelFileError, check_output_dir, read_text_lines  # noqa: F401
from sphereface_tf.util.modelfiles import check_keras_file, load_keras_model  # noqa: F401
