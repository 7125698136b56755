"""The MNIST demo run: train 2-D or 3-D embeddings with the SphereFace softmax variants and draw them.

    from sphereface_tf.mnist.demo import DemoSettings, run_demo
    run_folder = run_demo(DemoSettings(loss="all", dim=2, epochs=5))

`run_demo(settings)` is what `python mnist_demo/run.py` does after parsing its options
(sphereface_tf.commands.mnist_demo, which documents them and opens the figures with --show).
The curves are training and test curves: the test digits are scored after every epoch
(`test_loss`, `test_accuracy` in metrics.json); nothing is chosen on them.
"""

import contextlib
import dataclasses
import datetime
import os
import platform
import shutil
import sys
import time
import warnings

import keras
import numpy as np

from sphereface_tf._version import __version__
from sphereface_tf.head import LambdaLogger, attach_head
from sphereface_tf.layers import FAMILY_NAMES, PAPER_VARIANTS, SCALED_VARIANTS, VARIANTS, SoftmaxHead
from sphereface_tf.mnist.data import load_digits
from sphereface_tf.mnist.model import mnist_cnn
from sphereface_tf.training.batches import shuffled_batches
from sphereface_tf.training.callbacks import EpochTimer, FeatureSnapshots, StopOnNonFinite
from sphereface_tf.util.errors import ConfigError, check_output_dir
from sphereface_tf.util.faults import fault_point
from sphereface_tf.util.files import atomic_write, save_figure, save_gif, write_json
from sphereface_tf.viz.animation import animation_page, frame_arrays, side_by_side, write_animation
from sphereface_tf.viz.boundaries import BoundarySpec
from sphereface_tf.viz.plots import plot_angle_histograms, plot_comparison, plot_embedding, plot_history, sphere_figure
from sphereface_tf.viz.projector import write_projector
from sphereface_tf.viz.stats import angle_statistics


# what the demo trains: one variant; "all" the paper's three; "family" A-Softmax and the four losses that followed it,
# each on the same seed and data
FAMILY = ("angular", "normface", "cosface", "arcface", "sphereface_r")
LOSSES = (*VARIANTS, "all", "family")


def variant_title(variant):
    """How figures name a variant: "angular softmax", …, "CosFace"."""
    return FAMILY_NAMES.get(variant, f"{variant} softmax")


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """One demo run. `epochs`/`augment` None: 30 epochs and shifts of 2 pixels on a small (< 10k) training set,
    8 and 0 on a full one. λ anneals from 1000 to `lambda_min`, reached after `lambda_floor_at` of the steps."""

    loss: str = "angular"
    dim: int = 3
    m: int = 4
    epochs: int | None = None
    batch_size: int = 64
    learning_rate: float = 2e-3
    lambda_min: float = 5.0
    lambda_floor_at: float = 0.5
    augment: int | None = None
    dataset: str = "mnist"
    data: str | None = None
    out: str = "runs"
    seed: int = 0
    max_steps: int | None = None  # at most this many steps per epoch (tiny budgets for tests)
    animation: bool = True
    scale: float | None = None  # s of a scaled variant (None: the paper's, layers.DEFAULT_SCALE)
    margin: float | None = None  # its M (cosface, arcface) or real m (sphereface_r); None: layers.DEFAULT_MARGIN

    def __post_init__(self):
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.dim not in (2, 3):
            problems.append(f"dim must be 2 or 3, got {self.dim!r}")
        for name, low in (("m", 1), ("batch_size", 1), ("epochs", 1), ("max_steps", 1), ("augment", 0)):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                problems.append(f"{name} must be a whole number >= {low}, got {value!r}")
        if isinstance(self.augment, int) and self.augment > 8:
            problems.append(f"augment must be at most 8 pixels, got {self.augment}")
        if not 0.0 < self.lambda_floor_at <= 1.0:
            problems.append(f"lambda_floor_at must be in (0, 1], got {self.lambda_floor_at!r}")
        if not self.lambda_min > 0:
            problems.append(f"lambda_min must be > 0 so that the schedule has a floor to reach, got {self.lambda_min!r}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if (self.scale is not None or self.margin is not None) and self.loss not in SCALED_VARIANTS:
            problems.append(f"scale and margin set one scaled variant ({', '.join(SCALED_VARIANTS)}); loss {self.loss!r} "
                            f"trains each variant with its paper's values")
        if self.dataset not in ("mnist", "fashion_mnist"):
            problems.append(f"dataset must be mnist or fashion_mnist, got {self.dataset!r}")
        if problems:
            raise ConfigError("demo settings: " + "; ".join(problems))

    @property
    def variants(self):
        """The variants this run trains, in the order drawn."""
        return list(PAPER_VARIANTS) if self.loss == "all" else list(FAMILY) if self.loss == "family" else [self.loss]


def lambda_schedule(total_steps, lambda_min, floor_at, base=1000.0):
    """Head kwargs of the official annealing, with γ chosen to reach the floor at floor_at·total_steps."""
    floor_step = max(1.0, floor_at * total_steps)
    gamma = (base / lambda_min - 1.0) / floor_step
    return dict(lambda_base=base, lambda_gamma=gamma, lambda_power=1.0, lambda_min=lambda_min)


def boundary_record(head):
    """The head's decision boundaries as the 2-D figures draw them (JSON-ready; A-Softmax at training's final λ)."""
    bias = keras.ops.convert_to_numpy(head.bias).tolist() if head.variant == "original" else None
    lam = head.current_lambda() if head.variant == "angular" else 0.0
    note = "training's final λ" if head.variant == "angular" else None
    return dataclasses.asdict(BoundarySpec(head.variant, m=head.m, lam=lam, bias=bias, lam_note=note, margin=head.margin))


ANIMATION_POINTS = 1000  # test digits whose features the animation follows, epoch by epoch


def animation_subset(labels, count=ANIMATION_POINTS, seed=0):
    """Indices (sorted) of a fixed subset of the test digits, the same for every variant and run."""
    if len(labels) <= count:
        return np.arange(len(labels))
    return np.sort(np.random.default_rng(seed).choice(len(labels), count, replace=False))


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
    """Train one variant (`args`: the run's DemoSettings) and write its folder; returns (results, drawing, animation)."""
    keras.utils.set_random_seed(args.seed)
    out = os.path.join(run_dir, variant)
    os.makedirs(out)
    total_steps = steps_per_epoch * epochs
    head_kwargs = dict(m=args.m, **lambda_schedule(total_steps, args.lambda_min, args.lambda_floor_at)) if variant == "angular" else {}
    if variant in SCALED_VARIANTS:
        head_kwargs = dict(scale=args.scale, margin=args.margin)
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
    described = (f"m={args.m}, λ {head_kwargs}" if variant == "angular" else
                 f"s={head.scale:g}" + ("" if head.margin is None else f", margin {head.margin:g}") if variant in SCALED_VARIANTS else "")
    print(f"\n[{variant}] {epochs} epochs × {steps_per_epoch} steps, {described}")
    timer = EpochTimer()
    animate = args.animation
    subset = animation_subset(data.y_test)
    snapshots = FeatureSnapshots(backbone, x_test[subset], head=head) if animate else None
    history = train_model.fit(
        **shuffled_batches([x_train, data.y_train], data.y_train, args.batch_size, args.seed),
        validation_data=([x_test, data.y_test], data.y_test),
        epochs=epochs, steps_per_epoch=steps_per_epoch if args.max_steps else None,
        verbose=1 if sys.stdout.isatty() else 2,
        callbacks=[timer, LambdaLogger(),
                   StopOnNonFinite(what=f"{variant_title(variant)}, learning rate {args.learning_rate:g}",
                                   hint="run again with a lower --learning-rate"),
                   keras.callbacks.TensorBoard(os.path.join(out, "logs")), *([snapshots] if snapshots else [])],
    ).history

    features = backbone.predict(x_test, batch_size=256, verbose=0)
    logits = inference_model.predict(x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, 1) == data.y_test))
    weights = keras.ops.convert_to_numpy(head.kernel)
    stats = angle_statistics(features, data.y_test, data.num_classes)
    subtitle = f"test accuracy {accuracy:.4f}"
    boundaries = boundary_record(head) if args.dim == 2 else None

    fig = plot_embedding(features, data.y_test, weights, data.class_names, title=f"{variant_title(variant)} — {subtitle}",
                         boundaries=boundaries)
    save_figure(fig, os.path.join(out, "features.png"))
    if args.dim == 3:
        html = sphere_figure(features, data.y_test, weights, data.class_names, title=f"{variant_title(variant)} — {subtitle}")
        with atomic_write(os.path.join(out, "sphere.html"), "w") as handle:
            handle.write(html.to_html(include_plotlyjs=True, full_html=True))
    gif = None
    if snapshots:  # the features of the fixed subset, epoch by epoch: no second training
        np.savez(os.path.join(out, "animation.npz"), index=subset, labels=data.y_test[subset], **frame_arrays(snapshots.frames))
        gif = write_animation(snapshots.frames, data.y_test[subset], data.class_names, os.path.join(out, "animation.html"),
                              os.path.join(out, "animation.gif"), title=variant_title(variant))
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
        **({"boundaries": boundaries} if boundaries else {}),
        angles=stats,
        history={curve_name(k): [float(v) for v in vals] for k, vals in history.items()},
    ), (features, data.y_test, weights, subtitle), gif


def curve_name(key):
    """A Keras history key as the demo names it: its `val_` curves are scored on the test digits, so `test_`."""
    return "test_" + key[len("val_"):] if key.startswith("val_") else key


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


def run_demo(args):
    """Train the variants `args.loss` names, draw them and write the run folder; returns its path.

    `args`: a `DemoSettings`.
    """
    if not isinstance(args, DemoSettings):
        raise TypeError(f"run_demo takes a DemoSettings, got {type(args).__name__}; e.g. run_demo(DemoSettings(loss='all'))")
    check_output_dir(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_digits(args.dataset, args.data, seed=args.seed)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)

    with _op_determinism():
        return _run(args, data)


@contextlib.contextmanager
def _op_determinism():
    """TensorFlow's op determinism on for the run (same seed, same result), and back to what it was after it: left
    on, it would make Keras silently drop a caller's later `jit_compile=True` (it turns XLA off under determinism)."""
    if keras.config.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)
    from tensorflow.python.framework import config as tf_config  # TF 2.21's public API has no disable

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()


def _run(args, data):
    """run_demo's work once the data is loaded (under op determinism on TensorFlow)."""
    small = len(data.y_train) < 10000
    epochs = args.epochs or (30 if small else 8)
    augment_pixels = args.augment if args.augment is not None else (2 if small else 0)
    steps_per_epoch = int(np.ceil(len(data.y_train) / args.batch_size))
    if args.max_steps:
        steps_per_epoch = min(steps_per_epoch, args.max_steps)
    variants = args.variants
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    final_dir, run_dir = new_run_dir(args.out, f"{args.dataset}-{args.loss}-{args.dim}d-{stamp}")
    print(f"data: {data.source}: {len(data.y_train)} train / {len(data.y_test)} test images")
    started = time.time()
    try:
        results, drawings, gifs = {}, {}, {}
        for variant in variants:
            results[variant], drawings[variant], gifs[variant] = train_variant(
                variant, data, args, run_dir, steps_per_epoch, epochs, augment_pixels)
            fault_point("demo")
        if args.animation:  # the run's animation: every variant, side by side in the GIF
            with atomic_write(os.path.join(run_dir, "animation.html"), "w") as handle:
                handle.write(animation_page({variant_title(v): fig for v, (fig, _) in gifs.items()}))
            save_gif(side_by_side([images for _, images in gifs.values()]), os.path.join(run_dir, "animation.gif"), duration_ms=500)
        save_figure(plot_history({v: r["history"] for v, r in results.items()}), os.path.join(run_dir, "curves.png"))
        save_figure(plot_angle_histograms({v: r["angles"]["histogram"] for v, r in results.items()}), os.path.join(run_dir, "angles.png"))
        if len(variants) > 1:
            drawn = {v: r["boundaries"] for v, r in results.items() if "boundaries" in r}
            save_figure(plot_comparison(drawings, data.class_names, boundaries=drawn), os.path.join(run_dir, "comparison.png"))
            with atomic_write(os.path.join(run_dir, "comparison.md"), "w") as handle:
                handle.write(comparison_table(results, data.source))
        write_json(os.path.join(run_dir, "metrics.json"), dict(
            data_source=data.source, train_size=int(len(data.y_train)), test_size=int(len(data.y_test)),
            arguments=dataclasses.asdict(args), seconds_total=round(time.time() - started, 1),
            versions=dict(sphereface_tf=__version__, keras=keras.__version__,
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
    print(f"\nResults ({data.source.split(':')[0]}, {len(data.y_test)} test images, {args.dim}-D features):")
    for variant, r in results.items():
        o = r["angles"]["overall"]
        print(f"  {variant:8s} test accuracy {r['test_accuracy']:.4f}, mean intra-class angle {o['mean_intra']:.1f}°, "
              f"mean inter-class angle {o['mean_inter']:.1f}°")
    picture = "comparison.png" if len(variants) > 1 else os.path.join(variants[0], "features.png")
    print(f"  picture: {os.path.join(final_dir, picture)}")
    return final_dir
