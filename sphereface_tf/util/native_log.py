"""Filter the native log lines TensorFlow writes straight to file descriptor 2.

TensorFlow 2.21 prints absl lines at start-up ("I0000 … oneDNN custom operations are
on", "… could not find cuda drivers", the CPU-feature notice) and, from tf.data, a
harmless "E0000 … NodeDef mentions attribute use_unbounded_threadpool …" that reads
like a failure. No log-level variable silences them (absl logs before TensorFlow reads
TF_CPP_MIN_LOG_LEVEL). Our command-line scripts set SPHEREFACE_TF_QUIET_NATIVE_LOGS=1
and the command-line runner (`sphereface_tf.util.cli.main`) then routes fd 2 through a
small filter process that drops exactly these lines and passes everything else
through — tracebacks, warnings, real errors. Most of the lines come while TensorFlow is
imported, so a script asks for the filter before it imports the package: the package's
`__init__` calls `start_if_requested()`, which does nothing at all unless the variable
is 1 (a library user's `import sphereface_tf` starts no process). A separate process, not a thread: if this process crashes, the filter still
delivers every line written before the crash, then ends. Set the variable to 0 to see
the raw output. This module imports nothing heavy (it runs before Keras is imported).
"""

import atexit
import os
import subprocess
import sys

NATIVE_NOISE = (
    r"^(I0000 |WARNING: All log messages before absl::InitializeLog\(\) is called|"
    r"E0000 \S+ +\S+ node_def_util\.cc:\d+\] NodeDef mentions attribute \S+ which is not in the op definition|"
    r"E0000 \S+ +\S+ cuda_platform\.cc:\d+\] failed call to cuInit|"
    r"To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags)"
)
_FILTER = (
    "import re, sys\n"
    "noise = re.compile(sys.argv[1])\n"
    "out = sys.stdout.buffer\n"
    "for line in sys.stdin.buffer:\n"
    "    if not noise.match(line.decode('utf-8', 'replace')):\n"
    "        out.write(line); out.flush()\n"
)
_installed = False


def filter_native_stderr(pattern=NATIVE_NOISE):
    """Route fd 2 through a filter process dropping lines that match `pattern` (once per process)."""
    global _installed
    if _installed:
        return
    try:
        original = os.dup(2)
        child = subprocess.Popen([sys.executable, "-c", _FILTER, pattern], stdin=subprocess.PIPE, stdout=original,
                                 stderr=original, start_new_session=True)  # Ctrl-C is not for the filter
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()
    _installed = True

    def restore():
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # the filter's last writer is gone: it drains and ends
        os.close(original)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a child process of ours still holds the pipe
            pass

    atexit.register(restore)


def requested():
    """True in our command-line tools: the scripts set SPHEREFACE_TF_QUIET_NATIVE_LOGS=1, and the installed console
    scripts (`sphereface-train`, …) are known by their name unless the variable says otherwise."""
    setting = os.environ.get("SPHEREFACE_TF_QUIET_NATIVE_LOGS")
    if setting is not None:
        return setting == "1"
    return os.path.basename(sys.argv[0] if sys.argv else "").startswith("sphereface-")


def start_if_requested():
    """Start the filter in our command-line tools (see `requested`); otherwise do nothing."""
    if requested():
        filter_native_stderr()
