"""SphereNet architecture (paper Table 2)."""

import pytest

from sphereface_tf.face.spherenet import (
    UNITS,
    WIDTHS,
    conv_layer_count,
    forward_flops,
    spherenet,
)


def expected_parameters(depth, embedding=512):
    """Counted from the architecture: per stage a stride-2 3×3 conv with bias and a
    per-channel PReLU, then 2 bias-free 3×3 convs + 2 PReLUs per residual unit; FC1 from
    the 7×6×512 map of a 112×96 input (four halvings: 112→7, 96→6)."""
    total, c_in = 0, 3
    for units, c in zip(UNITS[depth], WIDTHS):
        total += 9 * c_in * c + c + c
        total += units * 2 * (9 * c * c + c)
        c_in = c
    return total + 7 * 6 * 512 * embedding + embedding


@pytest.mark.core
@pytest.mark.parametrize("depth", [4, 10, 20, 36, 64])
def test_depth_and_parameter_count(depth):
    model = spherenet(depth)
    # The paper's depth counts conv layers: 4 stride-2 convs + 2 per residual unit.
    assert conv_layer_count(model) == depth
    assert model.count_params() == expected_parameters(depth)
    assert model.output.shape[-1] == 512


@pytest.mark.core
def test_spherenet20_numbers():
    model = spherenet(20)
    # Stage by stage: 1,856 + 73,856 + 73,984 + 590,336 + 295,424 + 4,720,640
    # + 1,180,672 + 4,719,616 + FC1 11,010,560 = 22,666,944.
    assert model.count_params() == 22_666_944
    # ≈ 3.5 GFLOP per 112×96 image, the figure quoted for SphereFace-20.
    assert forward_flops(model) == pytest.approx(3.4995e9, rel=1e-4)
    assert [layer.name for layer in model.layers if "res" in layer.name] == [
        "res1_1", "res2_1", "res2_2", "res3_1", "res3_2", "res3_3", "res3_4", "res4_1",
    ]


def test_bad_depth():
    with pytest.raises(ValueError, match=r"`depth` must be one of \[4, 10, 20, 36, 64\]"):
        spherenet(18)


@pytest.mark.core
def test_dropout_before_fc1_acts_in_training_only():
    import keras
    import numpy as np

    plain = spherenet(4, embedding_dim=16)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)  # the paper's net by default
    dropped = spherenet(4, embedding_dim=16, dropout=0.5)
    assert [layer.name for layer in dropped.layers] == [
        *[layer.name for layer in plain.layers[:-1]], "dropout", "fc1"]
    dropped.set_weights(plain.get_weights())
    images = np.random.default_rng(0).uniform(0, 255, (4, 112, 96, 3)).astype("float32")
    np.testing.assert_allclose(dropped(images, training=False), plain(images), rtol=1e-6)
    features = keras.Model(dropped.input, dropped.get_layer("dropout").output)
    kept = keras.ops.convert_to_numpy(features(images, training=True)) != 0
    assert 0.4 < kept[np.asarray(keras.Model(plain.input, plain.get_layer("flatten").output)(images)) != 0].mean() < 0.6


def test_bad_dropout():
    with pytest.raises(ValueError, match=r"`dropout` must be a rate in \[0, 1\)"):
        spherenet(4, dropout=1.0)


@pytest.mark.parametrize("depth", [4, 20])
def test_the_batch_norm_form_is_opensphere_sfnet(depth):
    import keras

    model = spherenet(depth, 64, input_shape=(56, 48, 3), batch_norm=True)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert model.name == f"sfnet{depth}_bn" and len(convs) == conv_layer_count(spherenet(depth)) == depth
    assert len(norms) == depth + 1 and norms[-1].name == "fc1_bn"  # one per conv, one after FC1
    assert not any(layer.use_bias for layer in convs)  # BN's shift replaces the bias
    assert not any(isinstance(layer, keras.layers.PReLU) for layer in model.layers)
    assert sum(isinstance(layer, keras.layers.ReLU) for layer in model.layers) == depth
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == sum(UNITS[depth])
    gamma = keras.ops.convert_to_numpy(norms[-1].gamma)
    assert gamma.shape == (64,) and (gamma == 0.1).all()  # OpenSphere starts FC1's BN scale at 0.1
    assert model.output.shape == (None, 64)


def test_the_batch_norm_form_uses_batch_statistics_in_training_only():
    import keras
    import numpy as np

    model = spherenet(4, 8, input_shape=(32, 32, 3), batch_norm=True)
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    train = keras.ops.convert_to_numpy(model(x, training=True))
    infer = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.isfinite(train).all() and not np.allclose(train, infer)
    # in training FC1's BN normalises over the batch: each feature's batch mean is its (zero) offset
    np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-5)
