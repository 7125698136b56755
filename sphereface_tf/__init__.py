"""SphereFace (Liu et al., CVPR 2017) for Keras 3: A-Softmax and friends.

The package's top level is its core — `SoftmaxHead` and `MirrorImages` (layers),
the margin ψ and λ annealing (margin), float32-exact products (precise), angles
(angles), and `attach_head` / `LambdaLogger` (head) — which imports nothing else of
the package. The parts built on it live in sub-packages: `util` (plumbing),
`training`, `viz`, `mnist` and `face`; docs/architecture.md draws the map.
"""

from sphereface_tf._version import __version__  # noqa: F401
from sphereface_tf import _compat

_compat.install()  # the 0.1 module names (sphereface_tf.models, ...) import, with a DeprecationWarning; see _compat

from sphereface_tf.util import native_log as _native_log

_native_log.start_if_requested()  # only when our command-line scripts ask (SPHEREFACE_TF_QUIET_NATIVE_LOGS=1), before Keras loads TensorFlow

from sphereface_tf import precise  # noqa: E402
from sphereface_tf.angles import class_angles, unit_rows  # noqa: E402
from sphereface_tf.head import LambdaLogger, attach_head  # noqa: E402
from sphereface_tf.layers import VARIANTS, MirrorImages, RandomShift, SoftmaxHead  # noqa: E402
from sphereface_tf.margin import annealed_lambda, chebyshev_cos_multiple, psi  # noqa: E402

__all__ = [
    "VARIANTS",
    "precise",
    "LambdaLogger",
    "MirrorImages",
    "RandomShift",
    "SoftmaxHead",
    "annealed_lambda",
    "attach_head",
    "chebyshev_cos_multiple",
    "class_angles",
    "psi",
    "unit_rows",
]
