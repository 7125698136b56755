"""`.keras` model files: checked before loading, loaded with errors that say what is wrong, saved atomically."""

import contextlib
import os
import zipfile

import keras

import sphereface_tf.layers  # noqa: F401  (registers SoftmaxHead and MirrorImages for safe-mode loading)
from sphereface_tf.util.errors import ModelFileError
from sphereface_tf.util.files import UMASK


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
    check_keras_file(path, what)
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises many types for configs it cannot rebuild
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{what} {path}: cannot be loaded as a Keras model ({type(err).__name__}: {first[:300]}); "
                             "was it saved by this package (face/train.py, face/export.py, mnist_demo)?") from err


def save_model(model, path):
    """`model.save(path)` (a `.keras` file) atomically: a crash leaves the old file or none, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".partial-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(partial)
        os.chmod(partial, 0o666 & ~UMASK)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return path
