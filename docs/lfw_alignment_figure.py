"""The mean LFW face under two landmark sets (docs/figures/lfw_mean_faces.png): a sharper mean is a tighter alignment.

    python docs/lfw_alignment_figure.py data/lfw/aligned data/lfw/aligned_mtcnn \
        --labels "lfw_landmark.txt (original LFW)" "MTCNN on deep-funneled LFW"
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from sphereface_tf.face.align import TEMPLATE_96x112  # noqa: E402
from sphereface_tf.face.data import scan_identity_folders  # noqa: E402
from sphereface_tf.util.files import save_figure  # noqa: E402


def mean_face(root):
    """The mean grey face of an aligned tree, and its gradient energy (higher: the faces lie on top of each other)."""
    total = None
    paths = scan_identity_folders(root).paths
    for path in paths:
        grey = np.asarray(Image.open(path).convert("L"), np.float64)
        total = grey if total is None else total + grey
    mean = total / len(paths)
    return mean, float(np.mean(np.hypot(*np.gradient(mean)) ** 2)), len(paths)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="+", help="aligned trees (Name/Name_0001.jpg, 112×96)")
    parser.add_argument("--labels", nargs="+")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures",
                                                      "lfw_mean_faces.png"))
    args = parser.parse_args()
    labels = args.labels or args.trees
    fig, axes = plt.subplots(1, len(args.trees), figsize=(2.6 * len(args.trees), 3.4))
    for ax, root, label in zip(np.atleast_1d(axes), args.trees, labels):
        mean, energy, count = mean_face(root)
        ax.imshow(mean, cmap="gray", vmin=0, vmax=255)
        ax.plot(*TEMPLATE_96x112.T, "r+", markersize=8)
        ax.set_title(f"{label}\ngradient energy {energy:.1f}", fontsize=8)
        ax.set_axis_off()
        print(f"{root}: {count} faces, gradient energy of the mean face {energy:.2f}")
    fig.suptitle("Mean of LFW's aligned faces (+: the template's points)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, args.out, dpi=150)
    print(args.out)


if __name__ == "__main__":
    main()
