"""SphereNet-4/10/20/36/64 of the SphereFace paper (Table 2, Figure 6), in Keras layers.

Four stages of 64, 128, 256 and 512 channels. Each stage opens with a stride-2
3×3 convolution + PReLU, followed by residual units of two 3×3 convolutions +
PReLU whose output is added to the unit's input. Then a fully connected
512-d embedding (FC1). Input: aligned 112×96 RGB faces with pixels in [0, 255],
normalised as (x − 127.5) / 128 by the model's first layer (`normalization_layer`).

Initialisation follows the official Caffe model (sphereface_model.prototxt):
stride-2 convolutions and FC1 use Xavier (Glorot uniform) weights and zero
biases; convolutions inside residual units use Gaussian(σ = 0.01) weights and
no bias; PReLU slopes start at 0.25 (Caffe's default).

`batch_norm=True` builds OpenSphere's SFNet with BatchNorm instead (its `sfnet*` with
`norm_layer`): every convolution (no bias) is followed by batch normalisation and ReLU,
a residual unit is conv–BN–ReLU–conv–BN, added to its input, then ReLU; FC1 is followed by
a BatchNorm1d whose scale starts at 0.1; convolutions use He-normal (fan-out) weights.
"""

import keras
from keras import layers

from sphereface_tf.fastpath import accelerate

# residual units per stage: depth = 4 stride-2 convs + 2 convs per unit
UNITS = {4: (0, 0, 0, 0), 10: (0, 1, 2, 0), 20: (1, 2, 4, 1), 36: (2, 4, 8, 2), 64: (3, 8, 16, 3)}
WIDTHS = (64, 128, 256, 512)
INPUT_SHAPE = (112, 96, 3)


def normalization_layer():
    """(x − 127.5) / 128 as a serializable layer, so models take raw [0, 255] pixels."""
    return layers.Rescaling(1.0 / 128.0, offset=-127.5 / 128.0, name="normalize")


def _prelu(name):
    return layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name)


def spherenet(depth=20, embedding_dim=512, input_shape=INPUT_SHAPE, normalize=True, dropout=0.0, name=None,
              batch_norm=False):
    """SphereNet-`depth` (4, 10, 20, 36 or 64): RGB images → FC1 embedding.

    With `normalize=True` the model takes raw pixels in [0, 255] and applies
    (x − 127.5) / 128 itself; otherwise it expects normalised input. `dropout` > 0 adds
    dropout at that rate on the flattened features that feed FC1 (training only; not in
    the paper, whose nets have none: a regulariser for small training sets, where FC1's
    weights, most of the net's, memorise the faces). `batch_norm=True`: OpenSphere's SFNet-BN
    form (module docstring), named `sfnet<depth>_bn`.
    """
    if depth not in UNITS:
        raise ValueError(f"`depth` must be one of {sorted(UNITS)} (the paper's Table 2), got {depth!r}")
    if int(embedding_dim) < 1:
        raise ValueError(f"`embedding_dim` must be a positive integer, got {embedding_dim!r}")
    if not 0 <= float(dropout) < 1:
        raise ValueError(f"`dropout` must be a rate in [0, 1), got {dropout!r}")
    inputs = keras.Input(input_shape, name="image")
    x = normalization_layer()(inputs) if normalize else inputs
    if batch_norm:
        return _sfnet_bn(inputs, x, depth, int(embedding_dim), float(dropout), name)
    for stage, (units, width) in enumerate(zip(UNITS[depth], WIDTHS), start=1):
        x = layers.Conv2D(width, 3, strides=2, padding="same", kernel_initializer="glorot_uniform",
                          bias_initializer="zeros", name=f"conv{stage}_1")(x)
        x = _prelu(f"prelu{stage}_1")(x)
        for unit in range(units):
            shortcut = x
            for k in (2 * unit + 2, 2 * unit + 3):
                x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                                  kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                  name=f"conv{stage}_{k}")(x)
                x = _prelu(f"prelu{stage}_{k}")(x)
            x = layers.Add(name=f"res{stage}_{unit + 1}")([shortcut, x])
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    x = layers.Dense(embedding_dim, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="fc1")(x)
    model = keras.Model(inputs, x, name=name or f"spherenet{depth}")
    accelerate(model)  # TensorFlow on a CPU: a faster backward pass, same layers (fastpath.py)
    return model


def _sfnet_bn(inputs, x, depth, embedding_dim, dropout, name):
    """OpenSphere's SFNet with BatchNorm (sfnet.py, `norm_layer=BatchNorm2d`): conv–BN–ReLU, residual units, FC1–BN."""
    he = keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="untruncated_normal")

    def conv_bn(x, width, strides, label):
        x = layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False, kernel_initializer=he,
                          name=f"conv{label}")(x)
        return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"bn{label}")(x)

    for stage, (units, width) in enumerate(zip(UNITS[depth], WIDTHS), start=1):
        x = layers.ReLU(name=f"relu{stage}_1")(conv_bn(x, width, 2, f"{stage}_1"))
        for unit in range(units):
            shortcut = x
            k = 2 * unit + 2
            y = layers.ReLU(name=f"relu{stage}_{k}")(conv_bn(x, width, 1, f"{stage}_{k}"))
            y = conv_bn(y, width, 1, f"{stage}_{k + 1}")
            x = layers.ReLU(name=f"relu{stage}_{k + 1}")(layers.Add(name=f"res{stage}_{unit + 1}")([shortcut, y]))
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(embedding_dim, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="fc1")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, gamma_initializer=keras.initializers.Constant(0.1),
                                  name="fc1_bn")(x)
    model = keras.Model(inputs, x, name=name or f"sfnet{depth}_bn")
    accelerate(model)
    return model


def conv_layer_count(model):
    return sum(isinstance(layer, layers.Conv2D) for layer in model.layers)


def forward_flops(model):
    """Multiply-adds × 2 of the convolutions and dense layers for one image."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            flops += 2 * h * w * c_out * kh * kw * c_in
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)
