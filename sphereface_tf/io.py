"""Atomic file output: write to a temporary sibling, then rename into place."""

import contextlib
import json
import os
import tempfile

_UMASK = os.umask(0)  # read the process umask (the only way is to set it) ...
os.umask(_UMASK)  # ... and put it back at once


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Open a temporary file next to `path`; on success rename it over `path`.

    A crash leaves either the old file or none, never a half-written one. The
    file gets the permissions a plain `open` would give it (mkstemp's 0600
    would hide outputs from other users of a shared run folder).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path, data):
    with atomic_write(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=_jsonable)
        handle.write("\n")


def save_figure(fig, path, **kwargs):
    """Save a matplotlib figure atomically (format from the extension) and close it."""
    import matplotlib.pyplot as plt

    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format=fmt, **{"dpi": 130, "bbox_inches": "tight", **kwargs})
    plt.close(fig)
    return path


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ProgressBar:
    """Progress of a long loop that suits a terminal and a log file alike.

    On a terminal one line is redrawn in place; otherwise (a log, a pipe) a plain
    line is printed at each tenth of the work, with no carriage returns or escape codes.
    """

    def __init__(self, total, unit="item", stream=None):
        import sys
        import time

        self.total, self.unit = max(int(total), 1), unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._clock = time.monotonic
        self.start = self._clock()
        self._shown = -1

    def update(self, done):
        if self.tty:
            if done == self.total or self._clock() - getattr(self, "_last", 0.0) >= 0.2:
                self._last = self._clock()
                self.stream.write(f"\r{self._text(done)}")
                self.stream.flush()
        elif done * 10 // self.total > self._shown:
            self._shown = done * 10 // self.total
            self.stream.write(self._text(done) + "\n")
            self.stream.flush()

    def _text(self, done):
        elapsed = self._clock() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        return f"{done:,}/{self.total:,} {self.unit}s ({100 * done / self.total:.0f} %, {rate:,.0f}/s)"

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def save_model(model, path):
    """`model.save(path)` (a `.keras` file) atomically: a crash leaves the old file or none, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".partial-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(partial)
        os.chmod(partial, 0o666 & ~_UMASK)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return path


def fault_point(name):
    """Test hook for interruption tests: with SPHEREFACE_FAULT=<name>:<SIGNAL> set, this process
    sends itself SIGNAL (e.g. SIGTERM, SIGKILL) here, mid-way through writing its outputs."""
    spec = os.environ.get("SPHEREFACE_FAULT", "")
    point, _, signal_name = spec.partition(":")
    if point == name and signal_name:
        import signal

        os.kill(os.getpid(), getattr(signal, signal_name))
