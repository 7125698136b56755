"""The SphereFace paper's Fig. 5 on a face folder: a 3-D embedding of a few identities for m = 1, 2, 3, 4, on the unit sphere.

  sphereface-hypersphere --images lfw-aligned/ --identities 6 --margins 1 2 3 4 --out runs/hypersphere
  sphereface-hypersphere --images lfw-aligned/ --variants angular modified original --seeds 0 1 2 --out runs/h3

Takes the --identities identities of --images with the most images (an identity-folder tree, as
sphereface-prepare takes it: aligned 112×96 faces, other sizes resized, or raw images with
--landmarks), holds out a share of each identity's faces (--heldout, the same split for every run),
trains one small SphereNet with 3-D features per variant, margin and seed, and writes to --out:

  table.json, table.csv     a row per run (accuracy; max / min / mean intra- and inter-class angles over the
                            held-out faces, and with train_ over the training faces), mean ± sd rows over seeds
  features/<run>.npz        features (unit rows), labels, heldout, paths, weights (unit class directions)
  sphere_<run>.png          the sphere from front and back; spheres.png: the runs side by side
  angles_<run>.png          angles of positive and negative pairs; angles.png: the runs side by side
  hypersphere.html          every run, interactive and offline: hover a point to see its face
  animation_<run>.html/.gif the features epoch by epoch (unless --no-animation)
  projector/<run>/          TensorBoard projector with the faces as sprites (tensorboard --logdir OUT/projector)

The defaults (SphereNet-4 on 56×48 faces, 30 epochs of batch 64) train m = 1…4 on LFW's six identities with
the most images in about 11 minutes on a 2-core CPU (150 s a margin; docs/hypersphere.md).
"""

import argparse

from sphereface_tf.face.hypersphere import HypersphereSettings, format_table, hypersphere
from sphereface_tf.layers import VARIANTS
from sphereface_tf.util import cli

DEFAULTS = HypersphereSettings(images="", out="")


def margin(text):
    """argparse type: an A-Softmax margin, a whole number >= 1."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"a margin m is a whole number >= 1, got {text!r}")
    return int(value)


def share(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 (e.g. 0.2), got {text!r}")
    return value


def seed(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a seed is a whole number >= 0, got {text!r}")
    return int(text)


def parse_args(argv=None):
    doc = __doc__
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-hypersphere", "face/hypersphere.py"), description=doc.split("\n\n")[0],
                                     epilog="\n\n".join(doc.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="identity-folder tree (root/<identity>/<image>)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--identities", type=cli.positive_int, default=DEFAULTS.identities,
                        help=f"how many identities, those with the most images, ties by name (default {DEFAULTS.identities})")
    parser.add_argument("--heldout", type=share, default=DEFAULTS.heldout,
                        help=f"share of each identity's faces held out of training (default {DEFAULTS.heldout:g})")
    parser.add_argument("--margins", type=margin, nargs="+", default=list(DEFAULTS.margins), metavar="M",
                        help="A-Softmax margins to train (default 1 2 3 4)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(DEFAULTS.variants),
                        help="softmax variants (default angular; original and modified have no margin: one run each)")
    parser.add_argument("--seeds", type=seed, nargs="+", default=list(DEFAULTS.seeds), metavar="SEED",
                        help="training seeds; several add mean ± sd rows (default 0)")
    parser.add_argument("--landmarks", help="5-point landmarks (path then 10 numbers per line) to align raw images with")
    parser.add_argument("--depth", type=int, choices=(4, 10, 20, 36, 64), default=DEFAULTS.depth,
                        help=f"SphereNet depth (default {DEFAULTS.depth})")
    parser.add_argument("--input-height", type=cli.positive_int, default=DEFAULTS.input_height,
                        help=f"faces are scaled from 112×96 to this height, width in proportion (default {DEFAULTS.input_height})")
    parser.add_argument("--epochs", type=cli.positive_int, default=DEFAULTS.epochs, help=f"training epochs (default {DEFAULTS.epochs})")
    parser.add_argument("--batch-size", type=cli.positive_int, default=DEFAULTS.batch_size, help=f"default {DEFAULTS.batch_size}")
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate,
                        help=f"peak Adam learning rate, cosine-decayed to 0 (default {DEFAULTS.learning_rate:g})")
    parser.add_argument("--lambda-min", type=float, default=DEFAULTS.lambda_min,
                        help=f"floor of the λ annealing (default {DEFAULTS.lambda_min:g})")
    parser.add_argument("--no-animation", dest="animation", action="store_false", help="do not record the features epoch by epoch")
    args = parser.parse_args(argv)
    if len(set(args.margins)) != len(args.margins):
        parser.error(f"--margins: each margin once, got {' '.join(map(str, args.margins))}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds: each seed once, got {' '.join(map(str, args.seeds))}")
    if args.identities < 2:
        parser.error("--identities: at least 2")
    return args


def settings_from(args):
    return HypersphereSettings(
        images=args.images, out=args.out, identities=args.identities, heldout=args.heldout, margins=tuple(args.margins),
        variants=tuple(dict.fromkeys(args.variants)), seeds=tuple(args.seeds), landmarks=args.landmarks, depth=args.depth,
        input_height=args.input_height, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        lambda_min=args.lambda_min, animation=args.animation)


def main(argv=None):
    settings = settings_from(parse_args(argv))
    table = hypersphere(settings)
    print("\n" + "\n".join(format_table(table)))
    out = settings.out
    print(f"\nResults in {out}:\n  table.json, table.csv\n  spheres.png (sphere_<run>.png), angles.png (angles_<run>.png)\n"
          f"  hypersphere.html (open in a browser; hover a point for its face)\n  features/<run>.npz"
          + ("\n  animation_<run>.html, animation_<run>.gif" if settings.animation else "")
          + f"\n  projector/: tensorboard --logdir {out}/projector")
    return 0


def entry():
    """Console script `sphereface-hypersphere`."""
    return cli.main(main)
