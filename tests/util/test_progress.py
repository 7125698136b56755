"""Progress lines: plain lines in a log, one redrawn line on a terminal."""

import io

from sphereface_tf.util.progress import ProgressBar


def test_progress_suits_a_log_and_a_terminal():
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
