"""`SoftmaxHead`: the original, modified and angular (A-Softmax) softmax of SphereFace, and the family that followed it.

Backend-agnostic (`keras.ops` only). See docs/math.md for the formulas.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from sphereface_tf.angles import class_angles
from sphereface_tf.margin import annealed_lambda, psi
from sphereface_tf.precise import float32_matmul

PAPER_VARIANTS = ("original", "modified", "angular")  # SphereFace's three softmax variants
# the hyperspherical losses that followed it: features and class weights normalised, logits scaled by s
SCALED_VARIANTS = ("normface", "cosface", "arcface", "sphereface_r")
VARIANTS = PAPER_VARIANTS + SCALED_VARIANTS
# the papers' defaults: NormFace s = 30 (as OpenSphere's CocoLoss); CosFace s = 64, M = 0.35; ArcFace s = 64,
# M = 0.5; SphereFace-R (OpenSphere's SphereFaceR_H, magnitude v0) s = 30, multiplicative m = 1.5
DEFAULT_SCALE = {"normface": 30.0, "cosface": 64.0, "arcface": 64.0, "sphereface_r": 30.0}
DEFAULT_MARGIN = {"cosface": 0.35, "arcface": 0.5, "sphereface_r": 1.5}
FAMILY_NAMES = {"normface": "NormFace", "cosface": "CosFace", "arcface": "ArcFace", "sphereface_r": "SphereFace-R"}
_HALF_DTYPES = ("float16", "bfloat16")
# Squared-norm floor: norms below 1e-6 are treated as 1e-6 when dividing, as in
# tf.math.l2_normalize, so zero features and zero weight columns stay finite.
_SQUARED_NORM_EPSILON = 1e-12


def _check_number(name, value, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number >= {minimum}, got {value!r}.")
    if not np.isfinite(value) or value < minimum:
        raise ValueError(f"`{name}` must be a finite number >= {minimum}, got {value!r}.")
    return float(value)


def _is_shape_pair(input_shape):
    return (
        isinstance(input_shape, (list, tuple))
        and len(input_shape) == 2
        and isinstance(input_shape[0], (list, tuple))
    )


def _is_symbolic(x):
    """True for tensors without a value yet: KerasTensor, TF graph tensor, JAX tracer."""
    if isinstance(x, keras.KerasTensor):
        return True
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

        return not tf.executing_eagerly() or tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax  # deferred: JAX is optional (TensorFlow backend)

        return isinstance(x, jax.core.Tracer)
    return False


def _concrete_numpy(x):
    """The value of `x` as NumPy when it is concrete (eager), None when symbolic."""
    return None if _is_symbolic(x) else np.asarray(ops.convert_to_numpy(x))


def safe_inverse_norm(squared_norm):
    """1 / max(||v||, 1e-6) from ||v||²; finite value and gradient at zero."""
    return ops.rsqrt(ops.maximum(squared_norm, _SQUARED_NORM_EPSILON))


@keras.saving.register_keras_serializable(package="sphereface_tf")
class SoftmaxHead(keras.layers.Layer):
    """Classification head with the three softmax variants of SphereFace and four that followed it.

    Call it as `head([features, labels], training=True)` during training (the
    margin is applied to the target logit) or `head(features)` at inference (no
    labels, no margin: logits ``||x|| cos θ_j``, or ``s cos θ_j`` for the scaled
    variants). Outputs are logits, always float32 (or float64 under a float64
    policy); pair them with `SparseCategoricalCrossentropy(from_logits=True)`.

    Args:
        num_classes: number of classes C ≥ 2.
        variant: "original" (x·W + b), "modified" (||W_j|| = 1, b = 0) or
            "angular" (A-Softmax: modified plus the multiplicative margin m);
            or, on normalised features, with logits s cos θ_j: "normface"
            (no margin), "cosface" (target s (cos θ_y − M); CosFace / AM-Softmax),
            "arcface" (target s cos(θ_y + M); where θ_y + M would pass π,
            s (cos θ_y − M sin M), insightface's monotone continuation) or
            "sphereface_r" (target s ψ(θ_y) with a real m ≥ 1, ψ as A-Softmax's
            with k = ⌊mθ/π⌋, the margin's gradient detached: SphereFace Revived,
            OpenSphere's SphereFaceR_H with magnitude "v0").
        scale: s of the scaled variants (default: the paper's, `DEFAULT_SCALE`).
        margin: M of "cosface" / "arcface" (additive, radians for arcface) and the
            multiplicative m of "sphereface_r" (default: `DEFAULT_MARGIN`).
        m: integer angular margin ≥ 1 (angular only; default 4, m = 1 equals
            "modified"). Must be left unset or 1 for the other variants.
        lambda_base, lambda_gamma, lambda_power, lambda_min: the annealing of
            the official Caffe layer, λ_t = max(lambda_min,
            lambda_base · (1 + lambda_gamma·t)^(−lambda_power)), where t counts
            training steps including the current one. The target logit is
            ||x|| (λ cos θ_y + ψ(θ_y)) / (1 + λ). `lambda_base=0,
            lambda_min=0` gives pure A-Softmax.
        kernel_initializer, kernel_regularizer, bias_initializer,
        bias_regularizer: as in `keras.layers.Dense` (the bias exists only for
            "original").
        **kwargs: standard layer arguments (`name`, `dtype`, ...). When no
            dtype is given and the global policy is mixed (float16/bfloat16
            compute), the head computes in float32, as Keras advises for
            output layers; features are upcast on entry.

    Attributes:
        kernel: (D, C) class weights; columns are the class directions.
        bias: (C,) for "original", else None.
        iterations: int scalar, training steps seen (angular only, else None).
    """

    def __init__(
        self,
        num_classes,
        variant="angular",
        m=None,
        lambda_base=1000.0,
        lambda_gamma=0.12,
        lambda_power=1.0,
        lambda_min=5.0,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        bias_initializer="zeros",
        bias_regularizer=None,
        scale=None,
        margin=None,
        **kwargs,
    ):
        if kwargs.get("dtype") is None:
            policy = keras.dtype_policies.get(keras.config.dtype_policy())
            if policy.compute_dtype in _HALF_DTYPES:
                kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
        if variant not in VARIANTS:
            raise ValueError(f"`variant` must be one of {', '.join(map(repr, VARIANTS))}; got {variant!r}.")
        if m is None:
            m = 4 if variant == "angular" else 1
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise ValueError(f"`m` must be an integer >= 1 (the angular margin), got {m!r}.")
        if m > 1 and variant != "angular":
            raise ValueError(
                f"`m={m}` needs variant='angular'; the {variant!r} variant has no margin "
                "(leave `m` unset or use m=1)."
            )
        if variant in SCALED_VARIANTS:
            scale = DEFAULT_SCALE[variant] if scale is None else scale
            if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not np.isfinite(scale) or scale <= 0:
                raise ValueError(f"`scale` must be a finite number > 0 (the s of {variant!r}), got {scale!r}.")
            if variant == "normface" and margin is not None:
                raise ValueError("`margin` needs variant 'cosface', 'arcface' or 'sphereface_r'; 'normface' has none.")
            if variant != "normface":
                margin = DEFAULT_MARGIN[variant] if margin is None else margin
                low, high, what = {"cosface": (0.0, 1.0, "in [0, 1)"), "arcface": (0.0, math.pi / 2, "in [0, π/2) radians"),
                                   "sphereface_r": (1.0, 16.0, "in [1, 16)")}[variant]
                if (isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not np.isfinite(margin)
                        or not low <= margin < high):
                    raise ValueError(f"`margin` of {variant!r} must be a number {what}, got {margin!r}.")
                margin = float(margin)
            scale = float(scale)
        elif scale is not None or margin is not None:
            raise ValueError(f"`scale` and `margin` belong to the variants {', '.join(map(repr, SCALED_VARIANTS))}; "
                             f"the {variant!r} variant has neither (leave them unset).")
        self.num_classes = int(num_classes)
        self.variant = variant
        self.scale, self.margin = scale, margin
        self.m = int(m)
        self.lambda_base = _check_number("lambda_base", lambda_base)
        self.lambda_gamma = _check_number("lambda_gamma", lambda_gamma)
        self.lambda_power = _check_number("lambda_power", lambda_power)
        self.lambda_min = _check_number("lambda_min", lambda_min)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias = None
        self.iterations = None

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        feature_shape = input_shape[0] if _is_shape_pair(input_shape) else input_shape
        if len(feature_shape) != 2 or feature_shape[-1] is None:
            raise ValueError(
                f"{self.__class__.__name__} expects features of shape (batch, dim) with a known "
                f"dim, got shape {tuple(feature_shape)}. Flatten or pool the features first."
            )
        dim = int(feature_shape[-1])
        # autocast=False: norms and margin always see the float32 weights, even
        # when a user explicitly asks this layer to compute in half precision.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(dim, self.num_classes),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            autocast=False,
        )
        if self.variant == "original":
            self.bias = self.add_weight(
                name="bias",
                shape=(self.num_classes,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                autocast=False,
            )
        if self.variant == "angular":
            self.iterations = self.add_weight(
                name="iterations",
                shape=(),
                dtype="int",
                initializer="zeros",
                trainable=False,
                aggregation="only_first_replica",
            )

    def compute_output_shape(self, input_shape):
        feature_shape = input_shape[0] if _is_shape_pair(input_shape) else input_shape
        return (feature_shape[0], self.num_classes)

    # ------------------------------------------------------------------- call
    def call(self, inputs, training=None):
        features, labels = self._split_inputs(inputs)
        compute_dtype = self.compute_dtype
        out_dtype = "float32" if compute_dtype in _HALF_DTYPES else compute_dtype
        x = ops.cast(features, compute_dtype)
        raw = ops.cast(float32_matmul(x, ops.cast(self.kernel, compute_dtype)), out_dtype)  # TF32-proof
        kernel = ops.cast(self.kernel, out_dtype)
        if self.variant == "original":
            return raw + ops.cast(self.bias, out_dtype)
        # ||x|| cos θ_j = x · W_j / ||W_j||: scale the (B, C) product instead of
        # normalising the (D, C) kernel — cheaper for batches smaller than D.
        logits = raw * safe_inverse_norm(ops.sum(ops.square(kernel), axis=0))
        if self.variant in SCALED_VARIANTS:
            x = ops.cast(x, out_dtype)
            cos = ops.clip(logits * safe_inverse_norm(ops.sum(ops.square(x), axis=-1))[:, None], -1.0, 1.0)
            if self.variant == "normface" or labels is None or not training:
                return self.scale * cos
            return self.scale * self._scaled_margin(cos, labels)
        if self.variant == "modified" or labels is None or not training:
            return logits
        return self._apply_margin(logits, ops.cast(x, out_dtype), labels)

    def _scaled_margin(self, cos, labels):
        """cos θ_j with the target's cos θ_y replaced by its margin form (before the scale s)."""
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        target = ops.take_along_axis(cos, labels[:, None], axis=1)[:, 0]
        margin = self.margin
        if self.variant == "cosface":
            changed = target - margin
        elif self.variant == "arcface":
            # cos(θ + M) = cos θ cos M − sin θ sin M, sin θ from cos θ with a floor under the root: finite gradients
            # at θ = 0 and π (never arccos). Past θ = π − M, insightface's continuation cos θ − M sin M keeps the
            # target logit decreasing in θ (cos(θ + M) would rise again).
            sine = ops.sqrt(ops.maximum(1.0 - ops.square(target), 1e-6))
            changed = ops.where(target > math.cos(math.pi - margin), target * math.cos(margin) - sine * math.sin(margin),
                                target - margin * math.sin(margin))
        else:  # sphereface_r: ψ(θ) with a real m, from a detached θ; the gradient is that of cos θ_y (as OpenSphere)
            theta = ops.arccos(ops.clip(ops.stop_gradient(target), -1.0 + 1e-5, 1.0 - 1e-5)) * margin
            k = ops.floor(theta / math.pi)
            psi_value = (1.0 - 2.0 * ops.mod(k, 2.0)) * ops.cos(theta) - 2.0 * k
            changed = target + ops.stop_gradient(psi_value - target)
        one_hot = ops.one_hot(labels, self.num_classes, dtype=cos.dtype)
        return cos + one_hot * (changed - target)[:, None]

    def _apply_margin(self, logits, x, labels):
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        squared_norm = ops.sum(ops.square(x), axis=-1)
        inverse_norm = safe_inverse_norm(squared_norm)
        norm = squared_norm * inverse_norm  # = ||x|| (→ 0 smoothly at x = 0)
        target = ops.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
        cos_target = ops.clip(target * inverse_norm, -1.0, 1.0)
        lam = ops.cast(self._advance_lambda(), logits.dtype)
        margin_target = (lam * target + norm * psi(cos_target, self.m)) / (1.0 + lam)
        one_hot = ops.one_hot(labels, self.num_classes, dtype=logits.dtype)
        return logits + one_hot * (margin_target - target)[:, None]

    def _advance_lambda(self):
        step = self.iterations + 1
        self.iterations.assign(step)
        return self._lambda_at(step)

    def _lambda_at(self, step):
        return annealed_lambda(step, self.lambda_base, self.lambda_gamma, self.lambda_power, self.lambda_min)

    def _split_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    f"{self.__class__.__name__} takes `features` or `[features, labels]`, "
                    f"got a list of {len(inputs)} tensors."
                )
            features, labels = inputs
            if labels is not None:
                self._check_labels(labels)
            return features, labels
        return inputs, None

    def _check_labels(self, labels):
        dtype = keras.backend.standardize_dtype(labels.dtype)
        if "int" not in dtype:
            raise TypeError(
                f"{self.name}: labels must be integer class indices, got dtype {dtype}. "
                "Cast them (e.g. `keras.ops.cast(labels, 'int32')`) or declare the label "
                "input as `keras.Input(shape=(), dtype='int32')`."
            )
        values = _concrete_numpy(labels)
        if values is not None and values.size:
            bad = (values < 0) | (values >= self.num_classes)
            if bad.any():
                raise ValueError(
                    f"{self.name}: labels must lie in [0, {self.num_classes}) (num_classes="
                    f"{self.num_classes}); found {np.unique(values[bad])[:10].tolist()} "
                    f"at positions {np.flatnonzero(bad.ravel())[:10].tolist()}."
                )

    # --------------------------------------------------------------- helpers
    def current_lambda(self):
        """λ used by the latest training step (λ_0 = lambda_base before training), as a float.

        Always 0.0 for the "original" and "modified" variants.
        """
        if self.iterations is None:
            return 0.0
        return float(ops.convert_to_numpy(self._lambda_at(self.iterations)))

    def class_angles(self, features):
        """Angles (radians, float64 NumPy, shape (N, C)) between features and class weights."""
        return class_angles(features, ops.convert_to_numpy(self.kernel))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            variant=self.variant,
            m=self.m,
            lambda_base=self.lambda_base,
            lambda_gamma=self.lambda_gamma,
            lambda_power=self.lambda_power,
            lambda_min=self.lambda_min,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        )
        if self.variant in SCALED_VARIANTS:  # the paper variants' configs stay as 0.1-0.3 saved them
            config.update(scale=self.scale, margin=self.margin)
        return config


@keras.saving.register_keras_serializable(package="sphereface_tf")
class MirrorImages(keras.layers.Layer):
    """Horizontal mirror of channels-last images (N, H, W, C): the paper's flipped test copy."""

    def call(self, images):
        return ops.flip(images, axis=-2)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="sphereface_tf")
class RandomShift(keras.layers.Layer):
    """Moves each training image (N, H, W, C) by its own random offset of up to `pixels` pixels in each direction,
    and with `scale` > 0 also rescales it about its centre by its own factor in [1 − scale, 1 + scale].

    The uncovered border gets `fill_value` (127.5: mid-grey for 0–255 pixels, 0 after
    SphereNet's normalisation). Rescaled images are resampled at the nearest pixel. The
    identity at inference. Written with `keras.ops` gathers only, so it compiles with XLA
    on every backend (Keras' `RandomTranslation` and `RandomZoom` turn JAX's jit off).
    """

    def __init__(self, pixels, fill_value=127.5, seed=None, scale=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(pixels, bool) or not isinstance(pixels, numbers.Integral) or pixels < 0:
            raise ValueError(f"`pixels` must be a whole number >= 0, got {pixels!r}.")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 <= scale < 0.5:
            raise ValueError(f"`scale` must be a number in [0, 0.5), got {scale!r}.")
        self.pixels, self.fill_value, self.seed, self.scale = int(pixels), float(fill_value), seed, float(scale)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training or (self.pixels == 0 and self.scale == 0):
            return images
        if self.scale:
            return self._shift_and_scale(images)
        p = self.pixels
        batch, height, width, channels = ops.shape(images)
        padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=self.fill_value)
        offsets = keras.random.randint((batch, 2), 0, 2 * p + 1, seed=self.seed_generator)
        rows = offsets[:, :1] + ops.arange(height)[None, :]  # (N, H): the padded rows each output row reads
        cols = offsets[:, 1:] + ops.arange(width)[None, :]  # (N, W)
        return self._gather(padded, rows, cols, height, width, channels)

    @staticmethod
    def _gather(padded, rows, cols, height, width, channels):
        """Output pixel (n, i, j) = padded[n, rows[n, i], cols[n, j]]."""
        batch = ops.shape(padded)[0]
        rows = ops.broadcast_to(ops.cast(rows, "int32")[:, :, None, None], (batch, height, ops.shape(padded)[2], channels))
        picked = ops.take_along_axis(padded, rows, axis=1)
        cols = ops.broadcast_to(ops.cast(cols, "int32")[:, None, :, None], (batch, height, width, channels))
        return ops.take_along_axis(picked, cols, axis=2)

    def _shift_and_scale(self, images):
        p, scale = self.pixels, self.scale
        batch, height, width, channels = ops.shape(images)
        # wide enough a border that a face shrunk by 1 − scale and moved by p reads fill, never a clipped edge
        pad = p + int(np.ceil(max(height, width) / 2 * (1 / (1 - scale) - 1))) + 1
        padded = ops.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], constant_values=self.fill_value)
        offsets = ops.cast(keras.random.randint((batch, 2), -p, p + 1, seed=self.seed_generator), "float32")
        factors = keras.random.uniform((batch, 1), 1 - scale, 1 + scale, seed=self.seed_generator)

        def sources(size, offset):  # (N, size): the padded index each output index reads (nearest pixel)
            centre = (size - 1) / 2
            where = centre + (ops.arange(size, dtype="float32")[None, :] - centre) / factors + offset + pad
            return ops.clip(ops.round(where), 0, size + 2 * pad - 1)

        return self._gather(padded, sources(height, offsets[:, :1]), sources(width, offsets[:, 1:]), height, width, channels)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pixels": self.pixels, "fill_value": self.fill_value, "seed": self.seed,
                "scale": self.scale}
