#!/usr/bin/env python
"""The SphereFace paper's Fig. 5 on a face folder: python face/hypersphere.py --images lfw-aligned/ --out runs/hypersphere

The options and the work live in the library (sphereface_tf.commands.face_hypersphere); run with --help for them.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # filter TensorFlow's native start-up lines (sphereface_tf.util.native_log)

from sphereface_tf.commands.face_hypersphere import main  # noqa: E402
from sphereface_tf.util import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli.main(main))
