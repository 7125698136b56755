"""Progress of long loops, readable on a terminal and in a log file."""

import sys
import time


class ProgressBar:
    """Progress of a long loop that suits a terminal and a log file alike.

    On a terminal one line is redrawn in place; otherwise (a log, a pipe) a plain
    line is printed at each tenth of the work, with no carriage returns or escape codes.
    """

    def __init__(self, total, unit="item", stream=None):
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
