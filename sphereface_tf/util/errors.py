"""The one exception family for bad input, and checks shared by every entry point.

Every error a user can cause by what they pass in — a file, a folder, an argument,
a config value — is an `InputError` (a `ValueError`) whose message names the file
or argument, says what is wrong and what to do. The library raises the specific
subclasses (`FaceDataError`, `LandmarkError`, `PairsError`, `DataError`,
`ModelFileError`, `ConfigError`); the command-line tools report any of them as one
`error: …` line with exit status 2 (`sphereface_tf.util.cli`).
"""

import os
import tempfile


class InputError(ValueError):
    """Bad input; the message names it, says what is wrong and what to do."""


class ModelFileError(InputError):
    """A model file that is missing, damaged or not a model of the expected kind."""


class ConfigError(InputError):
    """A config file or setting that cannot be used."""


class TrainingDiverged(RuntimeError):
    """A training run whose loss or weights stopped being finite; the message names the step and the settings."""


def check_output_dir(path, what="--out"):
    """Raise InputError unless `path` is, or can be created as, a folder this process can write in.

    Probes by creating (and at once removing) a temporary file in the nearest
    existing folder on the path, so it is right for root and read-only mounts too,
    and creates nothing.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f"{what} {path}: is a file, not a folder; choose a folder path")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise InputError(f"{what} {path}: cannot be created, {probe} is a file; choose another path")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        raise InputError(f"{what} {path}: {probe} is not writable ({err.strerror}); choose a folder you can write to") from None
    return path


def read_text_lines(path, error=InputError, kind="file"):
    """The lines of a UTF-8 text file; `error(...)` if it is missing, a folder or not text."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {kind}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not a text {kind} (byte {err.start} is not UTF-8); give the plain-text {kind}") from None
