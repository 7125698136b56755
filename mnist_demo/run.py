#!/usr/bin/env python
"""Train 2-D or 3-D MNIST embeddings with the SphereFace softmax variants and draw them.

    python mnist_demo/run.py --loss angular --dim 3
    python mnist_demo/run.py --help

The options and the work live in the library (sphereface_tf.commands.mnist_demo,
sphereface_tf.mnist.demo); the same command is installed as `sphereface-mnist-demo`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # filter TensorFlow's native start-up lines (sphereface_tf.util.native_log)

from sphereface_tf.commands.mnist_demo import main  # noqa: E402
from sphereface_tf.util import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli.main(main))
