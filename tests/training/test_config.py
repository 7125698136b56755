"""The settings schema: one declaration per key serves the TOML reader, the flags and validation."""

import argparse

import pytest

from sphereface_tf.face.training import SCHEMA
from sphereface_tf.training.config import Option, Schema
from sphereface_tf.util.errors import ConfigError


def small_schema():
    return Schema(
        Option("steps", 100, "steps", minimum=1),
        Option("rate", 0.1, "rate", above=0),
        Option("kind", "a", "kind", choices=("a", "b")),
        Option("flag", False, "flag"),
        Option("marks", [10, 20], "marks"),
        checks=(lambda s: "steps must be even" if s["steps"] % 2 else None,),
    )


def test_flags_override_toml_which_overrides_defaults(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('steps = 40\nkind = "b"\nmarks = [1, 2, 3]\nflag = true\n')
    args = small_schema().parse(["--config", str(config), "--steps", "60"])
    assert (args.steps, args.rate, args.kind, args.flag, args.marks) == (60, 0.1, "b", True, [1, 2, 3])


@pytest.mark.parametrize("toml, words", [
    ("steps = 0", "steps = 0: expected a whole number >= 1"),
    ("steps = 2.5", "expected a whole number"),
    ("steps = true", "expected a whole number"),
    ("rate = 0", "rate = 0: expected a number > 0"),
    ('rate = "fast"', "expected a number"),
    ('kind = "c"', "expected one of 'a', 'b'"),
    ("flag = 3", "expected true or false"),
    ('marks = [1, "x"]', "a list of whole numbers"),
    ("nope = 1", "unknown keys ['nope']"),
    ("steps = ", "not valid TOML"),
])
def test_bad_toml_values_name_the_file_and_key(tmp_path, toml, words):
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError) as err:
        small_schema().parse(["--config", str(config)])
    assert str(config) in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], "expected a whole number >= 1"),
    (["--rate", "-1"], "expected a number > 0"),
    (["--rate", "nan"], "expected a number > 0 (finite)"),
    (["--kind", "z"], "expected one of 'a', 'b'"),
    (["--flag", "maybe"], "expected true or false"),
    (["--steps", "3"], "steps must be even"),
])
def test_bad_flags_are_usage_errors(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        small_schema().parse(argv, argparse.ArgumentParser(prog="tool"))
    assert exit_.value.code == 2 and words in capsys.readouterr().err


def test_validate_checks_values_and_cross_checks():
    schema = small_schema()
    assert schema.validate(schema.defaults())["steps"] == 100
    with pytest.raises(ConfigError, match="steps = -1"):
        schema.validate(dict(schema.defaults(), steps=-1))
    with pytest.raises(ConfigError, match="steps must be even"):
        schema.validate(dict(schema.defaults(), steps=3))


def test_face_training_schema_is_the_one_source():
    """Every key of the shipped configs is declared once, with a help text, and its default passes its own check."""
    for option in SCHEMA:
        assert option.help and option.convert(option.default) == option.default, option.name
    assert SCHEMA["variant"].choices == ("original", "modified", "angular", "normface", "cosface", "arcface", "sphereface_r")
    assert SCHEMA["depth"].choices == (4, 10, 20, 36, 64)
    parser = argparse.ArgumentParser()
    SCHEMA.add_arguments(parser)
    flags = {a.dest for a in parser._actions if a.dest != "help"}
    assert flags == {o.name for o in SCHEMA}


@pytest.mark.parametrize("path", ["face/configs/sphereface20_casia.toml", "face/configs/sphereface20_lfw.toml"])
def test_shipped_configs_validate(path):
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    settings = dict(SCHEMA.defaults(), **SCHEMA.read_toml(os.path.join(root, path)))
    assert SCHEMA.validate(settings) is settings
