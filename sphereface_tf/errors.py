"""The one exception family for bad input, and checks shared by every entry point.

Every error a user can cause by what they pass in — a file, a folder, an argument,
a config value — is an `InputError` (a `ValueError`) whose message names the file
or argument, says what is wrong and what to do. The library raises the specific
subclasses (`FaceDataError`, `LandmarkError`, `PairsError`, `DataError`,
`ModelFileError`, `ConfigError`); the command-line tools report any of them as one
`error: …` line with exit status 2 (`sphereface_tf.cli`).
"""

import os
import zipfile


class InputError(ValueError):
    """Bad input; the message names it, says what is wrong and what to do."""


class ModelFileError(InputError):
    """A model file that is missing, damaged or not a model of the expected kind."""


class ConfigError(InputError):
    """A config file or setting that cannot be used."""


def check_keras_file(path, what="--model"):
    """Raise ModelFileError unless `path` is an existing, complete `.keras` archive."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{what} {path}: model file not found")
    if os.path.isdir(path):
        raise ModelFileError(f"{what} {path}: is a folder; give the .keras file (a SavedModel folder is for "
                             "TensorFlow Serving, not for this tool)")
    if os.path.getsize(path) == 0:
        raise ModelFileError(f"{what} {path}: the file is empty; save the model again (model.save(...)) or copy it again")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{what} {path}: not a complete .keras file (a .keras file is a zip archive; this one is "
                             "truncated or something else); save or copy it again")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{what} {path}: damaged .keras archive ({err}); save or copy it again") from err
    if bad is not None:
        raise ModelFileError(f"{what} {path}: damaged .keras archive ({bad} fails its checksum); save or copy it again")
    if "config.json" not in names:
        raise ModelFileError(f"{what} {path}: a zip archive but not a .keras model (no config.json inside)")
    return path


def load_keras_model(path, what="--model"):
    """`keras.models.load_model(path)` (safe mode, our layers registered) with errors that say what is wrong."""
    import keras

    import sphereface_tf  # noqa: F401  (registers SoftmaxHead and MirrorImages)

    check_keras_file(path, what)
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises many types for configs it cannot rebuild
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{what} {path}: cannot be loaded as a Keras model ({type(err).__name__}: {first[:300]}); "
                             "was it saved by this package (face/train.py, face/export.py, mnist_demo)?") from err


def check_output_dir(path, what="--out"):
    """Raise InputError unless `path` is, or can be created as, a folder this process can write in.

    Probes by creating (and at once removing) a temporary file in the nearest
    existing folder on the path, so it is right for root and read-only mounts too,
    and creates nothing.
    """
    import tempfile

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
