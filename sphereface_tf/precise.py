"""Float32 matrix products that stay float32 on GPUs whose default is TF32.

On Ampere and later NVIDIA GPUs, TensorFlow (by default) and XLA under JAX (at
the default precision) run float32 matmuls on TF32 tensor cores: the inputs are
rounded to 11 significant bits, so a dot product of 512 terms is off by ≈1e-4–1e-3
relative. SoftmaxHead's logits, and through them the margin ψ(θ_y) whose slope
grows with m², need the float32 they are declared with.

`float32_matmul(x, w)`:

* JAX: `jnp.matmul(..., precision=HIGHEST)`, i.e. true float32 (its gradient
  inherits the precision);
* other backends (TensorFlow has no per-op switch, only the global
  `tf.config.experimental.enable_tensor_float_32_execution`): three products of
  Veltkamp-split operands, x·w ≈ hi(x)·hi(w) + hi(x)·lo(w) + lo(x)·hi(w), where
  hi(·) keeps 11 significant bits (exact in TF32) and lo(·) = · − hi(·) the rest,
  as CUTLASS's 3xTF32. The product is float32-accurate whether or not the
  hardware rounds to TF32; its gradient is computed the same way.

`FULL_FLOAT32 = False` (read when a function is traced) switches both back to the
plain matmul, for benchmarks that measure what the precision costs.
"""

import keras
from keras import ops

FULL_FLOAT32 = True
_matmul = ops.matmul  # the device's matmul (tests put a TF32 emulation here)
_VELTKAMP = 2.0**13 + 1.0  # splits a 24-bit float32 significand into 11 + 13 bits


def veltkamp_split(x):
    """(hi, lo) with hi + lo == x exactly and hi holding at most 11 significant bits (float32 x)."""
    t = x * _VELTKAMP
    hi = t - (t - x)
    return hi, x - hi


def split_matmul(x, w):
    """x @ w from three products of split operands: float32-accurate even if the matmul rounds inputs to TF32."""
    matmul = _matmul
    x_hi, x_lo = veltkamp_split(x)
    w_hi, w_lo = veltkamp_split(w)
    return matmul(x_hi, w_hi) + (matmul(x_hi, w_lo) + matmul(x_lo, w_hi))


@ops.custom_gradient
def _split_matmul_with_split_gradient(x, w):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return split_matmul(upstream, ops.transpose(w)), split_matmul(ops.transpose(x), upstream)

    return split_matmul(x, w), grad


def float32_matmul(x, w):
    """`x @ w` for 2-D float32 tensors at full float32 precision on any device (see the module doc)."""
    if not FULL_FLOAT32 or keras.backend.standardize_dtype(x.dtype) != "float32":
        return _matmul(x, w)
    if keras.config.backend() == "jax":
        import jax  # deferred: JAX is optional (TensorFlow backend)
        import jax.numpy as jnp  # deferred: JAX is optional (TensorFlow backend)

        return jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)
    return _split_matmul_with_split_gradient(x, w)
