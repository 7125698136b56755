"""Typed run settings declared once: the TOML reader, the command-line flags and validation all read one schema.

    SCHEMA = Schema(
        Option("steps", 28000, "training steps in total", minimum=1),
        Option("variant", "angular", "softmax variant", choices=("original", "modified", "angular")),
    )
    settings = SCHEMA.parse(argv, prog="face/train.py")      # --config file.toml, then --flags override it

Each `Option` has a name (a TOML key; the flag is `--name-with-dashes`), a default,
a help text, and its constraints: the type (from the default: bool, int, float, str
or a list of ints), a set of choices, and bounds. A TOML value of the wrong type, an
unknown key or a value out of range is a `ConfigError` naming the file and key; a bad
flag is argparse's usage error (exit status 2); both say what is allowed.
"""

import argparse
import dataclasses
import math
import os
import tomllib

from sphereface_tf.util.errors import ConfigError

_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclasses.dataclass(frozen=True)
class Option:
    name: str
    default: object
    help: str
    choices: tuple = None
    minimum: float = None  # value >= minimum
    above: float = None  # value > above
    maximum: float = None  # value <= maximum
    nullable: bool = False  # None (TOML: leave the key out; flag: "none") allowed

    @property
    def kind(self):
        if isinstance(self.default, bool):
            return bool
        if isinstance(self.default, list):
            return list
        if self.default is None:
            raise TypeError(f"option {self.name}: give a typed default (None is only allowed with nullable=True and a type)")
        return type(self.default)

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def allowed(self):
        """What the option accepts, in words."""
        if self.choices:
            return "one of " + ", ".join(map(repr, self.choices))
        words = {bool: "true or false", int: "a whole number", float: "a number", str: "text",
                 list: "a list of whole numbers, e.g. [16000, 24000]"}[self.kind]
        bounds = [f">= {self.minimum:g}" if self.minimum is not None else None,
                  f"> {self.above:g}" if self.above is not None else None,
                  f"<= {self.maximum:g}" if self.maximum is not None else None]
        bounds = [b for b in bounds if b]
        return words + (" " + " and ".join(bounds) if bounds else "") + (" (finite)" if self.kind is float else "")

    def convert(self, value):
        """`value` (a TOML value or a flag's text) as this option's type; ValueError with what is allowed."""
        kind = self.kind
        text = value.strip().lower() if isinstance(value, str) else None
        if self.nullable and (value is None or text == "none"):
            return None
        if kind is bool:
            if isinstance(value, bool):
                return value
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
        elif kind is list:
            items = value.replace(",", " ").split() if isinstance(value, str) else value
            if isinstance(items, list) and all(_is_int(v) for v in items):
                return [int(v) for v in items]
        elif kind is int:
            if _is_int(value):
                return self._checked(int(value))
        elif kind is float:
            if _is_number(value):
                return self._checked(float(value))
        elif isinstance(value, str):
            if self.choices is None:
                return value
            if text in self.choices:
                return text
        elif isinstance(value, bool) and self.choices:  # TOML true/false for a "true"/"false" choice
            if str(value).lower() in self.choices:
                return str(value).lower()
        raise ValueError(f"expected {self.allowed()}, got {value!r}")

    def _checked(self, value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {self.allowed()}, got {value!r}")
        if (self.minimum is not None and value < self.minimum or self.above is not None and value <= self.above
                or self.maximum is not None and value > self.maximum or self.choices and value not in self.choices):
            raise ValueError(f"expected {self.allowed()}, got {value!r}")
        return value


def _is_int(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        return value.strip().lstrip("+-").isdigit()
    return False


def _is_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


class Schema:
    """An ordered set of `Option`s, with optional checks across options."""

    def __init__(self, *options, checks=()):
        self.options = {option.name: option for option in options}
        if len(self.options) != len(options):
            raise ValueError("option names must be unique")
        self.checks = tuple(checks)  # functions settings → error text or None

    def __iter__(self):
        return iter(self.options.values())

    def __getitem__(self, name):
        return self.options[name]

    def defaults(self):
        return {name: (list(o.default) if isinstance(o.default, list) else o.default) for name, o in self.options.items()}

    def check(self, name, value, where):
        """`value` converted and checked as option `name`; ConfigError naming `where` and the key otherwise."""
        try:
            return self.options[name].convert(value)
        except ValueError as err:
            raise ConfigError(f"{where}: {name} = {value!r}: {err}") from None

    def read_toml(self, path, where=None):
        """The settings in a TOML file, converted and checked (keys left out keep their defaults)."""
        where = where or f"--config {path}"
        if not os.path.isfile(path):
            raise ConfigError(f"{where}: config file not found" + (" (it is a folder)" if os.path.isdir(path) else ""))
        try:
            with open(path, "rb") as handle:
                loaded = tomllib.load(handle)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{where}: not valid TOML ({err}); see face/configs/ for an example") from err
        unknown = sorted(set(loaded) - set(self.options))
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known keys: {sorted(self.options)}")
        return {key: self.check(key, value, where) for key, value in loaded.items()}

    def validate(self, settings, where="settings"):
        """Every value checked, then the checks across options; returns the settings."""
        for name, value in settings.items():
            if name in self.options:
                self.check(name, value, where)
        for check in self.checks:
            problem = check(settings)
            if problem:
                raise ConfigError(f"{where}: {problem}")
        return settings

    def add_arguments(self, parser, defaults=None, exclude=()):
        """One flag per option (but those in `exclude`), typed and checked by the option, with its default shown."""
        defaults = defaults or self.defaults()
        for option in self:
            if option.name in exclude:
                continue
            def convert(text, option=option):
                try:
                    return option.convert(text)
                except ValueError as err:
                    raise argparse.ArgumentTypeError(str(err)) from None

            default = defaults[option.name]
            kwargs = dict(dest=option.name, type=convert, default=default,
                          help=f"{option.help} ({option.allowed()}; default {_show(default)})")
            if option.kind is list:
                kwargs.update(nargs="+", metavar="N", type=lambda t: int(_int_text(t)))
            elif option.choices:
                kwargs["metavar"] = "{" + ",".join(map(str, option.choices)) + "}"
            parser.add_argument(option.flag, **kwargs)

    def parse(self, argv=None, parser=None, exclude=()):
        """Read `--config FILE` (TOML) if given, then the flags over it; returns an argparse Namespace.

        `parser` (an ArgumentParser with the tool's other flags) gets `--config` and one
        flag per option not in `exclude` (those keep their config or default value).
        Cross-option problems are argparse errors (exit status 2).
        """
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--config")
        known, _ = pre.parse_known_args(argv)
        settings = self.defaults()
        if known.config:
            settings.update(self.read_toml(known.config))
        parser = parser or argparse.ArgumentParser()
        parser.add_argument("--config", help="TOML file of settings (keys as the flags below, with underscores); flags override it")
        self.add_arguments(parser, settings, exclude)
        args = parser.parse_args(argv)
        for name in exclude:
            if not hasattr(args, name):
                setattr(args, name, settings[name])
        for check in self.checks:
            problem = check(vars(args))
            if problem:
                parser.error(problem)
        return args


def _int_text(text):
    if not _is_int(text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return text


def _show(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return " ".join(map(str, value))
    return repr(value) if isinstance(value, str) else str(value)
