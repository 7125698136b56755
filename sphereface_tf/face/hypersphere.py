"""The paper's Fig. 5 on any face folder: a 3-D SphereFace embedding of a few identities for m = 1, 2, 3, 4.

    from sphereface_tf.face.hypersphere import HypersphereSettings, hypersphere
    rows = hypersphere(HypersphereSettings(images="lfw-aligned/", out="runs/fig5"))   # what sphereface-hypersphere does

The K identities with the most images of an identity-folder tree are split once, per
identity, into training faces and a held-out share (the same split for every run). For each
variant, margin m and seed, SphereNet (a small one, on faces scaled down, so that four margins
train in minutes on a CPU) with a 3-D FC1 and a `SoftmaxHead` is trained on the training faces.
The features of every face are then drawn on the unit sphere, the angles between pairs of faces
of one identity (positive pairs) and of two identities (negative pairs) are counted, and the
paper's criterion is reported: the largest intra-class angle against the smallest inter-class
angle, over the training faces and over the held-out ones.

Outputs (in `out`): table.json / table.csv (a row per run, and mean ± sd rows over seeds),
features/<run>.npz, sphere_<run>.png, spheres.png, angles_<run>.png, angles.png,
hypersphere.html (offline; hover a point for its face), projector/<run>/ (TensorBoard) and,
unless `animation=False`, animation_<run>.html / animation_<run>.gif and features/<run>_animation.npz (the
features of up to 50 faces per identity, epoch by epoch).
"""

import base64
import collections
import csv
import dataclasses
import io
import json
import math
import os
import time

import keras
import numpy as np
from PIL import Image

from sphereface_tf.angles import unit_rows
from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import FaceDataError, fit_face, read_rgb, scan_identity_folders
from sphereface_tf.face.projection import thumbnails
from sphereface_tf.face.spherenet import UNITS, spherenet
from sphereface_tf.head import attach_head
from sphereface_tf.layers import FAMILY_NAMES, VARIANTS, RandomShift, SoftmaxHead
from sphereface_tf.training.callbacks import FeatureSnapshots, StopOnNonFinite
from sphereface_tf.util.errors import InputError, check_output_dir
from sphereface_tf.util.files import RunLock, atomic_write, save_figure, write_json
from sphereface_tf.util.progress import ProgressBar
from sphereface_tf.viz.plots import class_colors, plot_comparison, plot_pair_angles, plot_sphere, sphere_figure
from sphereface_tf.viz.animation import frame_arrays, write_animation
from sphereface_tf.viz.projector import write_projector
from sphereface_tf.viz.stats import angle_statistics

SPLIT_SEED = 0  # the held-out split does not depend on the training seeds: every run sees the same faces
STATISTICS = ("max_intra_deg", "min_inter_deg", "mean_intra_deg", "mean_inter_deg")
COLUMNS = (("run", "variant", "m", "seed", "seeds", "train_accuracy", "heldout_accuracy") + STATISTICS
           + tuple("train_" + s for s in STATISTICS) + ("min_weight_deg", "mean_weight_deg", "final_lambda", "seconds"))


@dataclasses.dataclass(frozen=True)
class HypersphereSettings:
    """What `hypersphere` trains and where it writes; `validate()` says what is wrong with a bad value.

    The defaults draw m = 1…4 on six identities in under 15 minutes on a 2-core CPU (docs/hypersphere.md).
    """

    images: str  # identity-folder tree: aligned 112×96 faces, other sizes resized, or raw images with `landmarks`
    out: str
    identities: int = 6  # the K identities with the most images (ties by name)
    heldout: float = 0.2  # share of each identity's faces held out of training
    margins: tuple = (1, 2, 3, 4)  # A-Softmax margins (angular only)
    variants: tuple = ("angular",)
    seeds: tuple = (0,)
    landmarks: str = None  # 5-point landmarks to align raw images with (as sphereface-prepare)
    depth: int = 4  # SphereNet depth
    input_height: int = 56  # faces are scaled from 112×96 to this height (width in proportion)
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3  # peak Adam learning rate, cosine-decayed to 0
    lambda_min: float = 5.0
    lambda_floor_at: float = 0.5  # λ reaches lambda_min after this share of the steps
    shift: int = 4  # random shifts of up to this many pixels (and horizontal flips) in training
    animation: bool = True
    thumbnail_width: int = 32  # faces in the HTML page and the projector's sprite

    def validate(self):
        problems = []
        if int(self.identities) != self.identities or self.identities < 2:
            problems.append(f"identities must be a whole number >= 2, got {self.identities!r}")
        if not 0 < self.heldout < 1:
            problems.append(f"heldout must be a share between 0 and 1, got {self.heldout!r}")
        bad = [m for m in self.margins if isinstance(m, bool) or not float(m).is_integer() or m < 1]
        if bad or not self.margins:
            problems.append(f"margins must be whole numbers >= 1, got {list(self.margins)!r}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            problems.append(f"variants must be some of {', '.join(VARIANTS)}, got {list(self.variants)!r}")
        if not self.seeds or any(int(s) != s or s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            problems.append(f"seeds must be distinct whole numbers >= 0, got {list(self.seeds)!r}")
        if self.depth not in UNITS:
            problems.append(f"depth must be one of {sorted(UNITS)}, got {self.depth!r}")
        for name, minimum in (("input_height", 16), ("epochs", 1), ("batch_size", 2), ("thumbnail_width", 8)):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < minimum:
                problems.append(f"{name} must be a whole number >= {minimum}, got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.lambda_min >= 0 or not 0 < self.lambda_floor_at <= 1:
            problems.append(f"lambda_min must be >= 0 and lambda_floor_at in (0, 1], got {self.lambda_min!r}, {self.lambda_floor_at!r}")
        if not 0 <= self.shift <= 24:
            problems.append(f"shift must be between 0 and 24 pixels, got {self.shift!r}")
        if problems:
            raise InputError("; ".join(problems))
        return self

    @property
    def input_shape(self):
        return (self.input_height, round(self.input_height * 96 / 112), 3)

    def runs(self):
        """(name, variant, m, seed) of every run, in training order; m only for the angular softmax."""
        plan = []
        for variant in self.variants:
            for m in (self.margins if variant == "angular" else (None,)):
                for seed in self.seeds:
                    plan.append((run_name(variant, m, seed), variant, None if m is None else int(m), int(seed)))
        return plan


def run_name(variant, m, seed=None):
    """`angular_m4_seed0`, `modified_seed1`; without a seed the name of the mean-over-seeds row."""
    name = variant + ("" if m is None else f"_m{m}")
    return name if seed is None else f"{name}_seed{seed}"


# ------------------------------------------------------------------------------------------- the faces
def choose_identities(root, count):
    """The `count` identities of `root` with the most images (ties by name): a `FaceList` of their faces, relabelled 0…K−1.

    Raises FaceDataError when the folder has fewer identities, or one of the chosen has fewer than
    `MIN_FACES` (two to hold out, two to train on).
    """
    faces = scan_identity_folders(root)
    counts = collections.Counter(faces.labels.tolist())
    if count > len(faces.names):
        raise FaceDataError(f"{root}: asked for {count} identities, the folder has {len(faces.names)} with images")
    order = sorted(counts, key=lambda label: (-counts[label], faces.names[label]))[:count]
    short = [f"{faces.names[label]} ({counts[label]})" for label in order if counts[label] < MIN_FACES]
    if short:
        raise FaceDataError(
            f"{root}: {len(order) - len(short)} of the {count} identities with the most images have the {MIN_FACES} faces that a "
            f"held-out share needs (two held out, two trained on); too few: {', '.join(short[:5])}; ask for fewer identities")
    new_label = {old: new for new, old in enumerate(order)}
    keep = [i for i, label in enumerate(faces.labels) if label in new_label]
    keep.sort(key=lambda i: (new_label[faces.labels[i]], faces.keys[i]))
    return dataclasses.replace(
        faces, paths=[faces.paths[i] for i in keep], labels=np.asarray([new_label[faces.labels[i]] for i in keep], np.int64),
        names=[faces.names[old] for old in order], keys=[faces.keys[i] for i in keep])


MIN_FACES = 4  # an identity needs two held-out faces and two training faces for its intra-class angles


def heldout_count(n, share):
    """How many of an identity's n (>= MIN_FACES) faces are held out: round(share · n), at least 2, leaving at least 2."""
    return min(max(2, round(share * n)), n - 2)


def stratified_split(labels, share, seed=SPLIT_SEED):
    """A boolean mask of the held-out faces: `heldout_count` of each identity, drawn with `seed`."""
    labels = np.asarray(labels)
    held = np.zeros(len(labels), bool)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held[rng.permutation(members)[: heldout_count(len(members), share)]] = True
    return held


def load_chosen_faces(faces, landmarks=None):
    """The faces as 112×96 RGB uint8 (aligned with `landmarks` or resized), naming an unreadable image."""
    points = read_landmarks(landmarks) if landmarks else None
    if points is not None:
        missing = [key for key in faces.keys if key not in points]
        if missing:
            raise FaceDataError(f"{landmarks}: no landmarks for {len(missing)} of the chosen faces, e.g. {missing[0]}")
    images = []
    for path, key in zip(faces.paths, faces.keys):
        try:
            image = read_rgb(path)
        except Exception as err:  # PIL raises several types for damaged files
            raise FaceDataError(f"{path}: unreadable image ({type(err).__name__}: {' '.join(str(err).split())[:120]}); "
                                "replace or remove it") from None
        images.append(fit_face(image, None if points is None else points[key]))
    return np.stack(images)


def scale_faces(images, shape):
    """(N, 112, 96, 3) uint8 faces scaled to `shape` (H, W, 3), bilinear."""
    if tuple(images.shape[1:]) == tuple(shape):
        return images
    height, width = shape[:2]
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)) for image in images])


# ------------------------------------------------------------------------------------------- statistics
def pair_statistics(features, labels, num_classes):
    """The table's four angles (degrees) over all pairs of `features`, and the angle histograms of `viz.stats`."""
    stats = angle_statistics(features, labels, num_classes)
    overall = stats["overall"]
    row = {f"{key}_deg": overall[key] for key in ("max_intra", "min_inter", "mean_intra", "mean_inter")}
    return row, stats["histogram"]


def weight_angles(weights):
    """Smallest and mean angle (degrees) between the class directions, weights (D, K)."""
    w = unit_rows(np.asarray(weights, np.float64).T)
    angles = np.degrees(np.arccos(np.clip(w @ w.T, -1.0, 1.0)))[np.triu_indices(len(w), k=1)]
    return float(angles.min()), float(angles.mean())


def mean_rows(rows):
    """One row per (variant, m) over its seeds: every figure's mean, and `<figure>_sd` its sample sd (seed null)."""
    groups = collections.defaultdict(list)
    for row in rows:
        groups[(row["variant"], row["m"])].append(row)
    means = []
    for (variant, m), members in groups.items():
        if len(members) < 2:
            continue
        mean = dict(run=run_name(variant, m), variant=variant, m=m, seed=None, seeds=[r["seed"] for r in members])
        for key in COLUMNS[COLUMNS.index("train_accuracy"):]:
            values = [r[key] for r in members if r.get(key) is not None]
            if values:
                mean[key] = float(np.mean(values))
                mean[key + "_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        means.append(mean)
    return means


# ------------------------------------------------------------------------------------------- training
def lambda_arguments(settings, total_steps):
    """The official annealing, γ set so that λ reaches `lambda_min` after `lambda_floor_at` of the steps."""
    floor_step = max(1.0, settings.lambda_floor_at * total_steps)
    base = 1000.0
    gamma = (base / max(settings.lambda_min, 1e-6) - 1.0) / floor_step
    return dict(lambda_base=base, lambda_gamma=gamma, lambda_power=1.0, lambda_min=settings.lambda_min)


class _StepBar(keras.callbacks.Callback):
    """A `ProgressBar` over a run's training steps."""

    def __init__(self, total):
        super().__init__()
        self.total, self.done = total, 0

    def on_train_begin(self, logs=None):
        self.bar = ProgressBar(self.total, unit="step")

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        self.bar.update(self.done)

    def on_train_end(self, logs=None):
        self.bar.close()


def train_run(settings, variant, m, seed, x_train, y_train, num_classes, watch=None):
    """Train one 3-D model; returns (backbone, inference model, head, seconds, frames).

    `watch`: images whose features are kept before training and after every epoch (the frames, a list of
    `training.callbacks.FeatureFrame`; empty without `watch`).
    """
    keras.utils.set_random_seed(seed)
    steps_per_epoch = math.ceil(len(x_train) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    backbone = spherenet(settings.depth, 3, input_shape=settings.input_shape, name=f"spherenet{settings.depth}_3d")
    head = SoftmaxHead(num_classes, variant=variant, name="softmax_head",
                       **(dict(m=m, **lambda_arguments(settings, total)) if variant == "angular" else {}))
    augment = [keras.layers.RandomFlip("horizontal", seed=seed, name="random_flip")]
    if settings.shift:
        augment.append(RandomShift(settings.shift, seed=seed, name="random_shift"))
    train_model, inference_model = attach_head(backbone, head, name=f"hypersphere_{variant}", augment=augment)
    train_model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(settings.learning_rate, total)),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    snapshots = FeatureSnapshots(backbone, watch, head=head) if watch is not None else None
    started = time.time()
    train_model.fit([x_train, y_train], y_train, batch_size=settings.batch_size, epochs=settings.epochs, shuffle=True, verbose=0,
                    callbacks=[StopOnNonFinite(what=f"{variant} softmax{'' if m is None else f' m={m}'}, learning rate "
                                                    f"{settings.learning_rate:g}", hint="run again with a lower learning rate"),
                               _StepBar(total), *([snapshots] if snapshots else [])])
    return backbone, inference_model, head, time.time() - started, snapshots.frames if snapshots else []


# ------------------------------------------------------------------------------------------- the command
def hypersphere(settings, log=print):
    """Train every run of `settings`, write the table, features and figures into `settings.out`; returns the table rows."""
    settings.validate()
    check_output_dir(settings.out)
    faces = choose_identities(settings.images, settings.identities)
    counts = np.bincount(faces.labels, minlength=len(faces.names))
    log(f"{len(faces.names)} identities with the most images in {settings.images}:")
    for name, n in zip(faces.names, counts):
        log(f"  {name:30s} {n:5d}")
    held = stratified_split(faces.labels, settings.heldout)
    log(f"held out {int(held.sum())} of {len(held)} faces ({settings.heldout:g} of each identity, split seed {SPLIT_SEED}); "
        f"SphereNet-{settings.depth} on {settings.input_shape[0]}×{settings.input_shape[1]} faces, 3-D features, "
        f"{settings.epochs} epochs × batch {settings.batch_size}")
    aligned = load_chosen_faces(faces, settings.landmarks)
    images = scale_faces(aligned, settings.input_shape)
    names = [name.replace("_", " ") for name in faces.names]
    K = len(names)
    x_train, y_train = images[~held], faces.labels[~held]
    os.makedirs(os.path.join(settings.out, "features"), exist_ok=True)
    rows, drawings, histograms, html_runs = [], {}, {}, {}
    watched = animation_subset(faces.labels)
    with RunLock(settings.out, what="out"):
        for name, variant, m, seed in settings.runs():
            log(f"\n[{name}]")
            backbone, inference_model, head, seconds, frames = train_run(
                settings, variant, m, seed, x_train, y_train, K, watch=images[watched] if settings.animation else None)
            features = unit_rows(backbone.predict(images, batch_size=256, verbose=0)).astype(np.float32)
            predicted = np.argmax(inference_model.predict(images, batch_size=256, verbose=0), axis=1)
            weights = keras.ops.convert_to_numpy(head.kernel).astype(np.float64)
            row = dict(run=name, variant=variant, m=m, seed=seed, seeds=[seed],
                       train_accuracy=float(np.mean(predicted[~held] == faces.labels[~held])),
                       heldout_accuracy=float(np.mean(predicted[held] == faces.labels[held])))
            held_row, held_hist = pair_statistics(features[held], faces.labels[held], K)
            train_row, train_hist = pair_statistics(features[~held], faces.labels[~held], K)
            row.update(held_row)
            row.update({"train_" + key: value for key, value in train_row.items()})
            row["min_weight_deg"], row["mean_weight_deg"] = weight_angles(weights)
            row.update(final_lambda=head.current_lambda() if variant == "angular" else None, seconds=round(seconds, 1))
            rows.append(row)
            np.savez(os.path.join(settings.out, "features", f"{name}.npz"), features=features, labels=faces.labels, heldout=held,
                     paths=np.asarray(faces.keys), weights=unit_rows(weights.T).astype(np.float32), names=np.asarray(faces.names))
            label = run_label(variant, m)
            subtitle = f"train {row['train_accuracy']:.3f} · held-out {row['heldout_accuracy']:.3f}"
            save_figure(plot_sphere(features, faces.labels, weights, names, title=f"{label} ({name}): {subtitle}"),
                        os.path.join(settings.out, f"sphere_{name}.png"))
            hist = {"training faces": train_hist, "held-out faces": held_hist}
            save_figure(plot_pair_angles({label: hist}, {label: row}), os.path.join(settings.out, f"angles_{name}.png"))
            if seed == settings.seeds[0]:
                drawings[label] = (features, faces.labels, weights, subtitle)
                histograms[label] = (hist, row)
            html_runs[name] = (label, features, weights, row)
            if frames:  # the watched faces epoch by epoch, from this training
                np.savez(os.path.join(settings.out, "features", f"{name}_animation.npz"), index=watched,
                         labels=faces.labels[watched], **frame_arrays(frames))
                write_animation(frames, faces.labels[watched], names, os.path.join(settings.out, f"animation_{name}.html"),
                                os.path.join(settings.out, f"animation_{name}.gif"), title=label, at_most=ANIMATION_FRAMES)
            log(f"[{name}] {seconds:.0f} s; accuracy train {row['train_accuracy']:.3f}, held-out {row['heldout_accuracy']:.3f}; "
                f"training faces: max intra {row['train_max_intra_deg']:.1f}°, min inter {row['train_min_inter_deg']:.1f}°, "
                f"mean intra {row['train_mean_intra_deg']:.1f}°; held-out: mean intra {row['mean_intra_deg']:.1f}°")
            write_table(settings.out, rows + mean_rows(rows), settings)  # after every run: an interrupted command keeps its table

        table = rows + mean_rows(rows)
        save_figure(plot_comparison(drawings, names), os.path.join(settings.out, "spheres.png"))
        save_figure(plot_pair_angles({k: h for k, (h, _) in histograms.items()}, {k: r for k, (_, r) in histograms.items()}),
                    os.path.join(settings.out, "angles.png"))
        thumbs = thumbnails(aligned, settings.thumbnail_width)
        with atomic_write(os.path.join(settings.out, "hypersphere.html"), "w") as handle:
            handle.write(hypersphere_html(html_runs, faces.labels, held, names, faces.keys, thumbs))
        for name, (label, features, _, _) in html_runs.items():
            write_projector(os.path.join(settings.out, "projector", name), features,
                            {"identity": [names[y] for y in faces.labels], "split": np.where(held, "held-out", "training").tolist(),
                             "image": faces.keys}, images=thumbs)
    return table


ANIMATION_PER_IDENTITY = 50  # faces of each identity the animation follows (training and held-out alike)
ANIMATION_FRAMES = 21  # frames of a run's GIF (its page has every epoch)


def animation_subset(labels, per_identity=ANIMATION_PER_IDENTITY, seed=SPLIT_SEED):
    """Indices (sorted) of at most `per_identity` faces of each identity, the same for every run."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_identity] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def run_label(variant, m):
    return f"A-Softmax m = {m}" if variant == "angular" else FAMILY_NAMES.get(variant, f"{variant} softmax")


def write_table(out, table, settings):
    write_json(os.path.join(out, "table.json"), dict(
        settings=dataclasses.asdict(settings), split_seed=SPLIT_SEED, angles="degrees; held-out faces unless prefixed train_",
        rows=table))
    buffer = io.StringIO()
    keys = list(COLUMNS) + sorted({k for row in table for k in row if k.endswith("_sd")})
    writer = csv.DictWriter(buffer, keys, extrasaction="ignore")
    writer.writeheader()
    for row in table:
        writer.writerow({k: (" ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)) for k, v in row.items()})
    with atomic_write(os.path.join(out, "table.csv"), "w") as handle:
        handle.write(buffer.getvalue())


def format_table(table):
    """The table as text lines for the terminal."""
    lines = ["run                      train acc  held acc  | training faces: max intra  min inter  mean intra  mean inter "
             "| held-out: max intra  min inter  mean intra  mean inter"]
    for r in table:
        sd = "" if r["seed"] is not None else " (mean of seeds)"
        lines.append(
            f"{r['run'] + sd:24s} {r['train_accuracy']:9.3f} {r['heldout_accuracy']:9.3f}  | {r['train_max_intra_deg']:25.1f} "
            f"{r['train_min_inter_deg']:10.1f} {r['train_mean_intra_deg']:11.1f} {r['train_mean_inter_deg']:11.1f} "
            f"| {r['max_intra_deg']:19.1f} {r['min_inter_deg']:10.1f} {r['mean_intra_deg']:11.1f} {r['mean_inter_deg']:11.1f}")
    return lines


# ------------------------------------------------------------------------------------------- the interactive page
def _data_uri(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


HOVER_SCRIPT = """
(function () {
  var plot = document.getElementById('{plot_id}');
  var thumbs = %s;
  var box = document.createElement('div');
  box.style.cssText = 'position:fixed;top:12px;right:12px;padding:6px;background:#fff;border:1px solid #bbb;' +
                      'font:12px sans-serif;text-align:center;display:none;z-index:10';
  var img = document.createElement('img');
  img.style.cssText = 'width:%dpx;image-rendering:auto;display:block;margin:0 auto 4px';
  var caption = document.createElement('div');
  box.appendChild(img); box.appendChild(caption); document.body.appendChild(box);
  plot.on('plotly_hover', function (event) {
    var point = event.points[0];
    if (!point.customdata) { return; }
    img.src = thumbs[point.customdata[0]];
    caption.textContent = point.text + ' (' + point.customdata[2] + ')';
    box.style.display = 'block';
  });
  plot.on('plotly_unhover', function () { box.style.display = 'none'; });
})();
"""


def hypersphere_figure(runs, labels, heldout, names, keys):
    """A plotly figure with every run's features on the unit sphere; a menu chooses the run.

    `runs`: dict name → (label, features (N, 3), weights (3, K), row). Each face is a point (training ○,
    held-out ◇) whose `customdata` is (index, path, split), for the page's thumbnail on hover.
    """
    import plotly.graph_objects as go  # deferred: plotly is only needed for the page

    first = sphere_figure(np.zeros((1, 3)) + [[0, 0, 1]], [0], None, ["x"])  # the translucent sphere and the layout
    sphere = first.data[0]
    colors = [f"rgb({int(255 * c[0])},{int(255 * c[1])},{int(255 * c[2])})" for c in class_colors(len(names))]
    traces, owner = [sphere], [None]
    split = np.where(heldout, "held-out", "training")
    symbols = np.where(heldout, "diamond", "circle")
    for run, (label, features, weights, row) in runs.items():
        unit = unit_rows(features)
        w_unit = unit_rows(np.asarray(weights).T)
        for c, name in enumerate(names):
            members = np.flatnonzero(labels == c)
            traces.append(go.Scatter3d(
                x=unit[members, 0], y=unit[members, 1], z=unit[members, 2], mode="markers", name=name, legendgroup=name,
                text=[name] * len(members), customdata=[[int(i), keys[i], split[i]] for i in members],
                hovertemplate="<b>%{text}</b><br>%{customdata[1]} (%{customdata[2]})<extra></extra>",
                marker=dict(size=3, color=colors[c], symbol=symbols[members].tolist(), opacity=0.85), visible=False))
            owner.append(run)
            tip = w_unit[c] * 1.3
            traces.append(go.Scatter3d(x=[0, tip[0]], y=[0, tip[1]], z=[0, tip[2]], mode="lines+text", text=["", name],
                                       line=dict(color=colors[c], width=6), legendgroup=name, showlegend=False,
                                       hoverinfo="skip", visible=False))
            owner.append(run)
    first_run = next(iter(runs))
    for trace, run in zip(traces, owner):
        if run == first_run:
            trace.visible = True
    buttons = []
    for run, (label, features, weights, row) in runs.items():
        title = (f"{label} ({run}): accuracy train {row['train_accuracy']:.3f}, held-out {row['heldout_accuracy']:.3f}; "
                 f"training faces: mean intra-class angle {row['train_mean_intra_deg']:.1f}°, "
                 f"min inter-class {row['train_min_inter_deg']:.1f}°")
        buttons.append(dict(label=run, method="update",
                            args=[{"visible": [run_ is None or run_ == run for run_ in owner]}, {"title.text": title}]))
    fig = go.Figure(traces, layout=first.layout)
    fig.update_layout(
        title=dict(text=buttons[0]["args"][1]["title.text"], font=dict(size=13)),
        updatemenus=[dict(buttons=buttons, direction="down", x=0.0, xanchor="left", y=1.0, yanchor="top", showactive=True)],
        legend=dict(itemsizing="constant", title="identity (○ training, ◇ held-out; click to toggle)"),
        margin=dict(l=0, r=0, t=60, b=0), height=760)
    return fig


def hypersphere_html(runs, labels, heldout, names, keys, thumbs):
    """One self-contained page (plotly.js inline, no network): `hypersphere_figure`, and each face's thumbnail on hover."""
    fig = hypersphere_figure(runs, labels, heldout, names, keys)
    script = HOVER_SCRIPT % (json.dumps([_data_uri(t) for t in thumbs]), thumbs.shape[2] * 2)
    return fig.to_html(include_plotlyjs=True, full_html=True, post_script=script)
