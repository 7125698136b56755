"""An identity-disjoint LFW benchmark in one command: per fold, train on the other nine folds' people, verify the fold.

  python face/benchmark.py --images data/lfw/aligned --pairs data/lfw/pairs.txt --out runs/lfw \\
      --config face/configs/sphereface20_lfw.toml --folds 1-5 --variants angular,modified,original
  python face/benchmark.py ... --variants angular --margins 1,2,3,4          # the margin's effect
  python face/benchmark.py ... --tune-folds 6-10 --folds 1-5 --candidates @tools/lfw_candidates.json


For each fold k of --folds, each variant of --variants (and each m of --margins for
A-Softmax) trains SphereNet with face/train.py's recipe (--config and its flags: steps,
learning rate, weight decay, λ, …) on every person of the other folds with at least
--min-images images, then scores fold k's 600 pairs as face/evaluate.py does. Writes
<out>/<run>/fold<k>.json as each fold ends (a finished fold is not redone when the
command is run again; with other settings on the same --out it is refused), and
summary.json, table.md (mean ± std over folds: accuracy, ROC AUC, TAR@FAR) and roc.png
(the runs' mean ROC curves). A fold whose training
diverges is recorded as diverged, never scored. --images: LFW aligned to 112×96
(face/prepare.py's alignment: give --landmarks for raw LFW images). Meant for a GPU
(KERAS_BACKEND=jax); tiny settings run on a CPU.

The protocol behind a reported accuracy (--tune-folds): every candidate of --candidates
(a name and the settings it changes; JSON, or @file.json) trains A-Softmax on the tuning
folds; the candidate and scoring (cosine, or the official centred features) with the best
mean there are chosen (<out>/chosen.json), and only then are --variants trained and scored
on --folds, once, in <out>/report/<chosen>[+centered]/. Tuning folds under <out>/tune/.
"""

import argparse

from sphereface_tf.face.benchmark import read_candidates, run_benchmark, tune_and_report
from sphereface_tf.face.training import SCHEMA
from sphereface_tf.util import cli


def fold_list(text):
    """"1-5", "1,3,5" or "7" → a sorted list of fold numbers."""
    folds = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            folds.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fold numbers like 1-5 or 1,3,5; got {text!r}") from None
    if not folds or min(folds) < 1:
        raise argparse.ArgumentTypeError(f"fold numbers start at 1; got {text!r}")
    return sorted(folds)


def name_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SCHEMA["variant"].choices]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected variants among {', '.join(SCHEMA['variant'].choices)}; got {text!r}")
    return names


def margin_list(text):
    try:
        margins = [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1 like 4 or 1,2,3,4; got {text!r}") from None
    if not margins or min(margins) < 1:
        raise argparse.ArgumentTypeError(f"margins must be >= 1; got {text!r}")
    return margins


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-benchmark", "face/benchmark.py"), description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="LFW image root (Name/Name_0001.jpg), aligned unless --landmarks")
    parser.add_argument("--pairs", required=True, help="LFW View 2 pairs.txt (10 identity-disjoint folds)")
    parser.add_argument("--landmarks", help="5-point landmarks to align raw LFW images with, detected on these very "
                        "images (deep-funneled LFW: sphereface-landmarks)")
    parser.add_argument("--out", required=True, help="output folder (a rerun continues it)")
    parser.add_argument("--folds", type=fold_list, default=fold_list("1-10"), help="folds to test, e.g. 1-5 (default 1-10)")
    parser.add_argument("--variants", type=name_list, default=["angular"], help="e.g. angular,modified,original (default angular)")
    parser.add_argument("--margins", type=margin_list, default=None, help="margins m of the angular runs (default: the config's m)")
    parser.add_argument("--min-images", type=cli.positive_int, default=2, help="training people need this many images (default 2)")
    parser.add_argument("--tune-folds", type=fold_list, default=None,
                        help="choose the settings on these folds first (e.g. 6-10), then report --folds (e.g. 1-5) once")
    parser.add_argument("--candidates", default=None,
                        help='with --tune-folds: JSON name → settings changed from the recipe, or @file.json '
                             '(default: the recipe alone); e.g. \'{"base": {}, "wd": {"weight_decay": 1e-3}}\'')
    args = SCHEMA.parse(argv, parser, exclude=("data", "out", "variant"))
    settings = {option.name: getattr(args, option.name) for option in SCHEMA if option.name not in ("data", "out")}
    if args.tune_folds is None:
        if args.candidates is not None:
            parser.error("--candidates needs --tune-folds (the folds to choose among them on)")
        margins = args.margins or [args.m]
        runs = [(v, m) for v in args.variants for m in (margins if v == "angular" else [1])]
        summary = run_benchmark(args.images, args.pairs, args.out, folds=args.folds, runs=runs, settings=settings,
                                landmarks=args.landmarks, min_images=args.min_images)
        report = args.out
    else:
        shared = sorted(set(args.tune_folds) & set(args.folds))
        if shared:
            parser.error(f"--tune-folds and --folds share fold(s) {shared}: report on folds you did not tune on "
                         f"(e.g. --tune-folds 6-10 --folds 1-5)")
        candidates = read_candidates(args.candidates, "--candidates") if args.candidates else {"config": {}}
        if args.min_images != 2:
            candidates = {name: {"min_images": args.min_images, **change} for name, change in candidates.items()}
        result = tune_and_report(args.images, args.pairs, args.out, settings, tune_folds=args.tune_folds,
                                 report_folds=args.folds, candidates=candidates, variants=args.variants,
                                 margins=args.margins or (), landmarks=args.landmarks, log=print)
        summary, report = result["summary"], result["report"]
    with open(f"{report}/table.md", encoding="utf-8") as handle:
        print(handle.read(), end="")
    return 0 if all(not e["diverged"] for e in summary.values()) else 3


def entry():
    """Console script `sphereface-benchmark`."""
    return cli.main(main)
