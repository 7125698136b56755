"""How every command-line tool reports bad input, interruption and TensorFlow's start-up noise.

    if __name__ == "__main__":
        sys.exit(cli.main(main))

`run(main, argv)` calls `main(argv)` and turns an `InputError` (or an OS error on a
named file) into one line, `error: …`, on stderr and exit status 2 — never a
traceback: those are left for bugs. A training run that diverged (`TrainingDiverged`)
is one such line too, with exit status 3. SIGTERM becomes an orderly stop (exit 143)
so that `finally` blocks remove partial outputs, as Ctrl-C does (exit 130).
`main(main)` does the same for a script, with line-buffered output, and starts the
filter of TensorFlow's native log lines (`sphereface_tf.util.native_log`) if it is not
running yet.
"""

import argparse
import os
import signal
import sys
import threading

from sphereface_tf.util import native_log
from sphereface_tf.util.errors import InputError, TrainingDiverged


def program(console, script):
    """The name a command's usage line shows: its console script (`sphereface-train`) when run as one, else its script path."""
    return console if os.path.basename(sys.argv[0] or "") == console else script


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that cleanup runs."""


def _terminate(signum, frame):
    raise Terminated()


def error_line(err):
    """The one-line report of a user error."""
    if isinstance(err, OSError) and err.filename is not None:
        text = f"{err.filename}: {err.strerror or err}"
    else:
        text = str(err)
    return "error: " + " ".join(text.split())


def run(main, argv=None):
    """Call `main(argv)`; report user errors as one line with status 2; SIGTERM → 143, Ctrl-C → 130."""
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    try:
        return main(argv) or 0
    except InputError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(error_line(err), file=sys.stderr)
        return 3
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError) as err:
        print(error_line(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(entry):
    """`run(entry)` for a script, with line-buffered output (so logs keep the order of events)."""
    sys.stdout.reconfigure(line_buffering=True)
    native_log.start_if_requested()
    return run(entry)


def positive_int(text):
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
