"""Atomic file output: write to a temporary sibling, then rename into place (text, JSON, figures, GIFs)."""

import contextlib
import fcntl
import json
import os
import socket
import tempfile

import numpy as np

from sphereface_tf.util.errors import InputError

UMASK = os.umask(0)  # read the process umask (the only way is to set it) ...
os.umask(UMASK)  # ... and put it back at once


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
    os.chmod(tmp, 0o666 & ~UMASK)
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
    import matplotlib.pyplot as plt  # deferred: matplotlib loads only in tools that save figures

    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format=fmt, **{"dpi": 130, "bbox_inches": "tight", **kwargs})
    plt.close(fig)
    return path


def save_gif(images, path, duration_ms=400, loop=0, hold_last_ms=2000):
    """Save PIL images as an animated GIF atomically: `duration_ms` per frame, the last held `hold_last_ms`.

    `loop=0` repeats forever (None: play once). All images should have one size.
    """
    images = list(images)
    if not images:
        raise ValueError("a GIF needs at least one image")
    durations = [int(duration_ms)] * (len(images) - 1) + [int(max(duration_ms, hold_last_ms))]
    options = dict(save_all=True, append_images=images[1:], duration=durations if len(images) > 1 else durations[0],
                   optimize=True, disposal=1)
    if loop is not None:
        options["loop"] = int(loop)
    with atomic_write(path, "wb") as handle:
        images[0].save(handle, format="GIF", **options)
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class RunLock:
    """Only one process at a time writes a run folder: an exclusive lock on `<folder>/.lock`.

    The lock (`flock`) ends with the process, however it ends (SIGKILL too), so a stale
    lock file never blocks the next run. A second process gets `InputError` naming the
    process that holds the folder.
    """

    def __init__(self, folder, what="--out"):
        self.folder, self.what = os.fspath(folder), what
        self._handle = None

    def __enter__(self):
        os.makedirs(self.folder, exist_ok=True)
        handle = open(os.path.join(self.folder, ".lock"), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InputError(f"{self.what} {self.folder}: a run is writing there ({holder}); wait for it to end, "
                             f"or choose another {self.what}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None
