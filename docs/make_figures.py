"""Regenerate the math figures in docs/figures with the package's plotting code (the package installed: `make install`).

    python docs/make_figures.py
"""

import os

from sphereface_tf.util.files import save_figure
from sphereface_tf.viz.plots import plot_psi

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "psi.png")
    save_figure(plot_psi(), out, dpi=150)
    print(out)
