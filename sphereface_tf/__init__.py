"""SphereFace (Liu et al., CVPR 2017) for Keras 3: A-Softmax and friends."""

__version__ = "0.1.0"

import sphereface_tf._native_log  # noqa: E402,F401  (before Keras: filters TensorFlow's start-up lines for our scripts)

from sphereface_tf import precise
from sphereface_tf.callbacks import LambdaLogger
from sphereface_tf.layers import VARIANTS, MirrorImages, SoftmaxHead, class_angles
from sphereface_tf.margin import annealed_lambda, chebyshev_cos_multiple, psi

__all__ = [
    "VARIANTS",
    "precise",
    "LambdaLogger",
    "MirrorImages",
    "SoftmaxHead",
    "annealed_lambda",
    "chebyshev_cos_multiple",
    "class_angles",
    "psi",
]
