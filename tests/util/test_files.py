"""Atomic outputs: all or nothing, with the permissions a plain `open` gives."""

import json
import os
import stat

import numpy as np
import pytest

from sphereface_tf.util.files import atomic_write, write_json


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_gives_plain_open_permissions(tmp_path):
    with open(tmp_path / "plain.txt", "w") as handle:
        handle.write("x")
    with atomic_write(tmp_path / "atomic.txt") as handle:
        handle.write("x")
    assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "plain.txt")  # not mkstemp's 0600
    assert (tmp_path / "atomic.txt").read_text() == "x"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"old": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write('{"new": ')
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_write_json_converts_numpy_values(tmp_path):
    write_json(tmp_path / "m.json", {"acc": np.float32(0.5), "hist": np.arange(3), "n": np.int64(7)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"acc": 0.5, "hist": [0, 1, 2], "n": 7}
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        write_json(tmp_path / "bad.json", {"s": {1}})
    assert not (tmp_path / "bad.json").exists()
