"""The demo's typed settings: what the command line maps to, and what the library refuses without naming a flag."""

import argparse
import dataclasses

import pytest

from sphereface_tf.commands.mnist_demo import parse_args, settings_from
from sphereface_tf.layers import VARIANTS
from sphereface_tf.mnist.demo import LOSSES, DemoSettings, run_demo, curve_name
from sphereface_tf.util.errors import ConfigError


def test_the_command_line_maps_onto_the_settings_and_keeps_show_to_itself():
    args = parse_args(["--loss", "all", "--dim", "2", "--m", "3", "--epochs", "5", "--no-animation", "--show"])
    settings = settings_from(args)
    assert settings == DemoSettings(loss="all", dim=2, m=3, epochs=5, animation=False)
    assert settings.variants == ["original", "modified", "angular"] and DemoSettings().variants == ["angular"]
    assert DemoSettings(loss="family").variants == ["angular", "normface", "cosface", "arcface", "sphereface_r"]
    assert settings_from(parse_args(["--loss", "arcface", "--scale", "32", "--margin", "0.4"])) == DemoSettings(
        loss="arcface", scale=32.0, margin=0.4)
    assert "show" not in {field.name for field in dataclasses.fields(DemoSettings)}
    assert settings_from(parse_args([])) == DemoSettings()  # the same defaults in both places


def test_the_loss_choices_come_from_the_head_variants():
    assert LOSSES == (*VARIANTS, "all", "family")
    with pytest.raises(SystemExit):
        parse_args(["--loss", "adacos"])
    with pytest.raises(SystemExit):
        parse_args(["--loss", "angular", "--margin", "0.3"])


@pytest.mark.parametrize("change, words", [
    (dict(loss="adacos"), "loss must be one of original, modified, angular, normface, cosface, arcface, sphereface_r, all, family"),
    (dict(loss="angular", scale=30.0), "scale and margin set one scaled variant"),
    (dict(loss="family", margin=0.2), "loss 'family' trains each variant with its paper's values"),
    (dict(dim=4), "dim must be 2 or 3"),
    (dict(m=0), "m must be a whole number >= 1"),
    (dict(m=2.5), "m must be a whole number >= 1"),
    (dict(epochs=0), "epochs must be a whole number >= 1"),
    (dict(batch_size=0), "batch_size must be a whole number >= 1"),
    (dict(augment=9), "augment must be at most 8 pixels"),
    (dict(augment=-1), "augment must be a whole number >= 0"),
    (dict(lambda_floor_at=0.0), "lambda_floor_at must be in (0, 1]"),
    (dict(lambda_min=0.0), "lambda_min must be > 0"),
    (dict(learning_rate=-1.0), "learning_rate must be > 0"),
    (dict(dataset="cifar10"), "dataset must be mnist or fashion_mnist"),
])
def test_bad_settings_are_one_config_error_that_names_the_setting_not_a_flag(change, words):
    with pytest.raises(ConfigError) as error:
        DemoSettings(**change)
    assert words in str(error.value) and "--" not in str(error.value)


def test_run_demo_takes_settings_not_an_argparse_namespace(tmp_path):
    with pytest.raises(TypeError, match="run_demo takes a DemoSettings, got Namespace"):
        run_demo(argparse.Namespace(loss="angular", out=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_the_curves_scored_on_test_digits_are_named_test():
    assert [curve_name(k) for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lambda")] == [
        "loss", "accuracy", "test_loss", "test_accuracy", "lambda"]
