"""Fault points: where interruption tests make a process signal itself mid-way through writing outputs.

Library code marks the moments (`fault_point("evaluate")`); nothing happens unless the
SPHEREFACE_FAULT variable names that point, so production runs pay one dict lookup.
"""

import os
import signal


def fault_point(name):
    """Test hook for interruption tests: with SPHEREFACE_FAULT=<name>:<SIGNAL> set, this process
    sends itself SIGNAL (e.g. SIGTERM, SIGKILL) here, mid-way through writing its outputs."""
    spec = os.environ.get("SPHEREFACE_FAULT", "")
    point, _, signal_name = spec.partition(":")
    if point == name and signal_name:
        os.kill(os.getpid(), getattr(signal, signal_name))
