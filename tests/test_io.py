"""Atomic outputs: all or nothing, with the permissions a plain `open` gives."""

import json
import os
import stat

import numpy as np
import pytest

from sphereface_tf.io import atomic_write, write_json


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


def test_progress_suits_a_log_and_a_terminal():
    import io

    from sphereface_tf.io import ProgressBar

    log = io.StringIO()
    bar = ProgressBar(1000, "face", stream=log)
    for done in range(1, 1001):
        bar.update(done)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("1,000/1,000 faces (100 %")  # the start, then a line per tenth
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    bar = ProgressBar(3, "image", stream=tty)
    for done in (1, 2, 3):
        bar.update(done)
    bar.close()
    assert tty.getvalue().startswith("\r1/3 images") and "\r3/3 images (100 %" in tty.getvalue()
    assert tty.getvalue().count("\n") == 1  # one line, redrawn in place
