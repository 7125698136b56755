"""Regenerate the math figures in docs/figures with the package's plotting code.

    python docs/make_figures.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sphereface_tf.plotting import plot_psi  # noqa: E402

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "psi.png")
    plot_psi().savefig(out, dpi=150)
    print(out)
