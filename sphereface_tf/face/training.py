"""Training SphereNet with a `SoftmaxHead` on prepared faces: the settings, the model, the run.

    from sphereface_tf.face.training import SCHEMA, build_face_model, train
    settings = SCHEMA.defaults() | dict(data="data/casia-webface-cache", out="runs/x")
    final = train(settings)                                     # what face/train.py does

`SCHEMA` declares every setting once (type, default, allowed values, help); face/train.py's
flags, its TOML configs (face/configs/) and `train` all read it. A run is split into
"epochs" of `checkpoint_every` steps: at the end of each the full state is saved
(weights, optimizer with its step counter, the head's λ counter), λ, learning rate and
images/s are logged, and the run is checked: a non-finite loss or weight stops it
(`TrainingDiverged`) before that state is saved, so the last checkpoint is finite and
`resume=True` continues from it (with a lower learning rate, say). Ctrl-C or SIGTERM
checkpoints after the current step; a killed run loses at most the steps since its last
checkpoint. Only one process at a time writes a run folder.
"""

import os
import sys

import keras

from sphereface_tf.face.data import FaceDataError, num_classes, training_input
from sphereface_tf.face.spherenet import UNITS, spherenet
from sphereface_tf.head import LambdaLogger, attach_head
from sphereface_tf.layers import SCALED_VARIANTS, VARIANTS, RandomShift, SoftmaxHead
from sphereface_tf.training.callbacks import (
    CheckpointOnInterrupt,
    EpochTimer,
    RunCSVLogger,
    StopAtStep,
    StopOnNonFinite,
    TensorBoardScalars,
    backup_and_restore,
    checkpointed_step,
    optimizer_step,
)
from sphereface_tf.training.config import Option, Schema
from sphereface_tf.training.distribute import auto_precision, data_parallel, enable_multiworker_fit, local_accelerators
from sphereface_tf.util.errors import InputError, check_output_dir
from sphereface_tf.util.files import RunLock, write_json
from sphereface_tf.util.modelfiles import save_model


def _steps_fit_checkpoints(settings):
    if settings["steps"] % settings["checkpoint_every"]:
        return f"--steps ({settings['steps']}) must be a multiple of --checkpoint-every ({settings['checkpoint_every']})"
    return None


def _margin_needs_angular(settings):
    if settings["variant"] != "angular" and settings["m"] not in (1, 4):
        return f"--m {settings['m']} needs --variant angular (the {settings['variant']} softmax has no margin)"
    return None


def _scale_and_margin_need_a_scaled_variant(settings):
    variant = settings["variant"]
    if variant not in SCALED_VARIANTS and (settings.get("logit_scale") or settings.get("margin")):
        return (f"--logit-scale and --margin set {', '.join(SCALED_VARIANTS)}; the {variant} softmax has neither "
                f"(A-Softmax's margin is --m)")
    if variant == "normface" and settings.get("margin"):
        return "--margin: normface has no margin (cosface, arcface and sphereface_r do)"
    if variant == "cosface" and settings.get("margin", 0) >= 1 or variant == "arcface" and settings.get("margin", 0) >= 1.5:
        return f"--margin {settings['margin']:g} is too wide for {variant} (cosface: below 1; arcface: below π/2 radians)"
    if variant == "sphereface_r" and 0 < settings.get("margin", 0) < 1:
        return f"--margin {settings['margin']:g}: sphereface_r's multiplicative m must be >= 1"
    return None


SCHEMA = Schema(
    Option("data", "data/casia-webface-tfrecords", "prepared faces: a folder written by face/prepare.py (TFRecords or a decoded cache)"),
    Option("out", "runs/sphereface20-casia", "run folder: checkpoints, logs, model.keras, embedding.keras"),
    Option("depth", 20, "SphereNet depth (the paper's Table 2)", choices=tuple(sorted(UNITS))),
    Option("embedding_dim", 512, "size of the FC1 embedding", minimum=1),
    Option("batch_norm", False, "OpenSphere's SFNet-BN form of SphereNet: batch norm after every convolution and FC1, "
           "ReLU (false: the paper's SphereNet, PReLU and no normalisation)"),
    Option("dropout", 0.0, "dropout rate on the features that feed FC1, training only (0: the paper's SphereNet; "
           "a regulariser for small training sets)", minimum=0, maximum=0.95),
    Option("variant", "angular", "softmax variant: the paper's original, modified, angular (A-Softmax), or normface, "
           "cosface, arcface, sphereface_r (normalised features, logits s cos θ)", choices=VARIANTS),
    Option("logit_scale", 0.0, "s of normface, cosface, arcface, sphereface_r (0: the paper's: 30, 64, 64, 30)", minimum=0),
    Option("margin", 0.0, "M of cosface / arcface (radians), the real multiplicative m of sphereface_r "
           "(0: the paper's: 0.35, 0.5, 1.5)", minimum=0),
    Option("m", 4, "angular margin of A-Softmax (angular only; m = 1 is the modified softmax)", minimum=1),
    Option("lambda_base", 1000.0, "λ annealing: λ_t = max(λ_min, λ_base (1 + γ t)^-power)", minimum=0),
    Option("lambda_gamma", 0.12, "λ annealing γ", minimum=0),
    Option("lambda_power", 1.0, "λ annealing power", minimum=0),
    Option("lambda_min", 5.0, "λ annealing floor", minimum=0),
    Option("batch_size", 256, "global batch size, split across replicas", minimum=1),
    Option("learning_rate", 0.1, "SGD learning rate for the global batch", above=0),
    Option("lr_boundaries", [16000, 24000], "steps at which the learning rate is multiplied by lr_decay"),
    Option("lr_decay", 0.1, "learning-rate factor at each boundary", above=0),
    Option("momentum", 0.9, "SGD momentum", minimum=0, maximum=1),
    Option("weight_decay", 5e-4, "weight decay", minimum=0),
    Option("ema", 0.0, "keep an exponential moving average of the weights with this momentum per step (0: off; "
           "e.g. 0.999): the saved and evaluated model gets the averaged weights, batch-norm statistics stay the trained "
           "net's", minimum=0, maximum=0.99999),
    Option("clip_norm", 5.0, "clip the global gradient norm to this (0: no clipping): bounds each step, which stops "
           "the feature-norm runaway that otherwise diverges (docs/face.md)", minimum=0),
    Option("shift", 0, "random shifts of each training face by up to this many pixels (0: none; mirroring is always on)",
           minimum=0, maximum=24),
    Option("scale", 0.0, "random rescaling of each training face about its centre by a factor in [1 − scale, 1 + scale] "
           "(0: none)", minimum=0, maximum=0.45),
    Option("steps", 28000, "training steps in total", minimum=1),
    Option("checkpoint_every", 1000, "steps between checkpoints, epoch-level logs and the finiteness check", minimum=1),
    Option("log_every", 100, "steps between TensorBoard batch logs", minimum=1),
    Option("precision", "auto", "float32, mixed_float16, mixed_bfloat16 or auto (GPU: mixed_bfloat16 from Ampere on, "
           "else mixed_float16; CPU: float32)", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16")),
    Option("xla", "auto", "compile with XLA (auto: always on JAX; on TensorFlow with a GPU)", choices=("auto", "true", "false")),
    Option("distribute", "auto", "data parallelism (auto: multiworker with TF_CONFIG or KERAS_DISTRIBUTION_*, mirrored with > 1 GPU)",
           choices=("auto", "none", "mirrored", "multiworker")),
    Option("shuffle_buffer", 10000, "TFRecord input: shuffle buffer", minimum=1),
    Option("seed", 0, "random seed: initialisation, data order, augmentation", minimum=0),
    Option("deterministic", False, "fixed data order (slower TFRecord input); a resumed run then sees exactly the batches "
           "of an uninterrupted one"),
    checks=(_steps_fit_checkpoints, _margin_needs_angular, _scale_and_margin_need_a_scaled_variant),
)


def precision_and_xla(settings):
    """The dtype policy and XLA choice that "auto" means here: bf16 on Ampere+ GPUs, XLA on JAX or with a GPU."""
    precision = auto_precision() if settings["precision"] == "auto" else settings["precision"]
    # JAX always compiles with XLA; TensorFlow's XLA pays off on GPUs (on CPUs it is slower)
    xla = (keras.config.backend() == "jax" or bool(local_accelerators())) if settings["xla"] == "auto" else settings["xla"] == "true"
    return precision, xla


def head_arguments(settings):
    """`SoftmaxHead` keyword arguments of the settings' variant."""
    if settings["variant"] in SCALED_VARIANTS:
        return dict(scale=settings.get("logit_scale") or None,
                    margin=None if settings["variant"] == "normface" else settings.get("margin") or None)
    if settings["variant"] != "angular":
        return {}
    return dict(m=settings["m"], lambda_base=settings["lambda_base"], lambda_gamma=settings["lambda_gamma"],
                lambda_power=settings["lambda_power"], lambda_min=settings["lambda_min"])


def build_face_model(settings, classes):
    """SphereNet-`depth` → `SoftmaxHead(classes)`: returns (train_model, backbone, head), uncompiled.

    The train model takes [images (N, 112, 96, 3) in 0–255, labels] and returns logits;
    with `shift` > 0 it first moves each training face by up to `shift` pixels, and with
    `scale` > 0 rescales it by up to ± scale (`RandomShift`, training only, XLA-compatible).
    """
    backbone = spherenet(settings["depth"], settings["embedding_dim"], dropout=settings.get("dropout", 0.0),
                         batch_norm=settings.get("batch_norm", False))
    head = SoftmaxHead(classes, variant=settings["variant"], name="softmax_head", **head_arguments(settings))
    augment = None
    if settings.get("shift") or settings.get("scale"):
        augment = RandomShift(settings["shift"], seed=settings["seed"], scale=settings.get("scale", 0.0), name="random_shift")
    model, _ = attach_head(backbone, head, name=f"spherenet{settings['depth']}_{settings['variant']}", augment=augment)
    return model, backbone, head


def learning_rate_schedule(settings):
    """The learning rate, multiplied by `lr_decay` at each of `lr_boundaries`."""
    values = [settings["learning_rate"] * settings["lr_decay"] ** k for k in range(len(settings["lr_boundaries"]) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(list(settings["lr_boundaries"]), values)


def make_optimizer(settings):
    """SGD with momentum and weight decay, the global gradient norm clipped if `clip_norm` > 0.

    With `ema` > 0 the optimizer also keeps a moving average of the trainable weights
    (Keras' `use_ema`); `fit` puts the averages into the model when it ends.
    """
    kwargs = dict(global_clipnorm=settings["clip_norm"]) if settings.get("clip_norm") else {}
    if settings.get("ema"):
        kwargs.update(use_ema=True, ema_momentum=settings["ema"])
    return keras.optimizers.SGD(learning_rate_schedule(settings), momentum=settings["momentum"],
                                weight_decay=settings["weight_decay"], **kwargs)


def compile_face_model(model, settings, xla=False):
    model.compile(optimizer=make_optimizer(settings), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=xla)
    return model


def training_callbacks(settings, backup_dir, test_hooks=()):
    """The callbacks of a run, and its EpochTimer. None has a blocking batch-end hook (the test hooks aside):
    under JAX, Keras then dispatches step after step without waiting for each to finish.

    StopOnNonFinite comes before the checkpoint callback, so a diverged epoch is never saved.
    """
    timer = EpochTimer(images_per_step=settings["batch_size"])
    callbacks = [
        timer, LambdaLogger(),
        StopOnNonFinite(what=f"{settings['variant']} softmax, learning rate {settings['learning_rate']:g}"),
        StopAtStep(settings["steps"]),  # a run resumed from a mid-interval checkpoint still ends at --steps
        backup_and_restore(backup_dir),
        RunCSVLogger(os.path.join(settings["out"], "log.csv"), append=True),
    ]
    try:
        callbacks.append(TensorBoardScalars(os.path.join(settings["out"], "logs"), update_freq=settings["log_every"]))
    except ImportError:
        print("note: the tensorboard package is not installed; no TensorBoard logs (log.csv has the same figures)")
    callbacks.extend(test_hooks)
    callbacks.append(CheckpointOnInterrupt(backup_dir))  # Ctrl-C / SIGTERM: checkpoint this step, exit
    return callbacks, timer


def train(settings, resume=False, test_hooks=(), verbose=None):
    """One training run as `settings` (SCHEMA's keys) describe it; returns the final state (also final.json).

    Raises `InputError` for unusable settings or data, `TrainingDiverged` when the loss
    or a weight stops being finite (the last checkpoint, if any, stays for `resume=True`).
    """
    settings = SCHEMA.validate(dict(SCHEMA.defaults(), **settings))
    backend = keras.config.backend()
    plan = data_parallel(settings["distribute"])  # first: multi-process JAX must start before any device is touched
    precision, xla = precision_and_xla(settings)
    out = settings["out"]
    backup_dir = os.path.join(out, "backup")
    check_output_dir(out)
    with RunLock(out, what="--out"):
        if os.path.isdir(backup_dir) and not resume:
            raise InputError(f"--out {out} holds an unfinished run; pass --resume to continue it or choose another --out")
        if resume and not os.path.isdir(backup_dir):
            raise InputError(f"--resume: no checkpoint in {backup_dir}; start without --resume")
        classes = num_classes(settings["data"])
        start = checkpointed_step(backup_dir) if resume else 0
        # before the input: TensorFlow's shuffles combine their seed with the global one, which must not depend
        # on what this process did before (a resumed run in the same process sees the straight run's batches)
        keras.utils.set_random_seed(settings["seed"])
        stream, data_format = training_input(settings["data"], settings["batch_size"], seed=settings["seed"], start_batch=start,
                                             deterministic=settings["deterministic"],
                                             shuffle_buffer=settings["shuffle_buffer"], shard=plan.shard)
        keras.config.set_dtype_policy(precision)
        with plan.scope():
            model, backbone, head = build_face_model(settings, classes)
            compile_face_model(model, settings, xla=xla)
            enable_multiworker_fit(model)  # TensorFlow: mends two Keras 3.15 bugs under MultiWorkerMirroredStrategy

        run = dict(settings, resume=resume, backend=backend, precision_used=precision, xla_used=xla, data_format=data_format,
                   distribution=plan.name, replicas=plan.replicas, num_classes=classes, parameters=int(backbone.count_params()))
        write_json(os.path.join(out, "config.json"), run)
        print(f"SphereNet-{settings['depth']}, {settings['variant']} softmax, {classes} classes, {backend}, {precision}, "
              f"XLA {'on' if xla else 'off'}, {plan.replicas} replica(s), global batch {settings['batch_size']}, {data_format} input"
              + (f"; resuming at step {start}, data stream started at batch {start}" if resume else ""))
        callbacks, timer = training_callbacks(settings, backup_dir, test_hooks)
        if verbose is None:
            verbose = 1 if sys.stdout.isatty() else 2
        try:
            model.fit(stream, epochs=settings["steps"] // settings["checkpoint_every"], steps_per_epoch=settings["checkpoint_every"],
                      callbacks=callbacks, verbose=verbose, shuffle=False)
        except Exception as err:
            if type(err).__name__ != "DataLossError":  # tf.data met a damaged TFRecord mid-run
                raise
            raise _damaged_records(err, settings["data"], backup_dir) from err
        save_model(model, os.path.join(out, "model.keras"))
        save_model(backbone, os.path.join(out, "embedding.keras"))
        state = dict(steps=optimizer_step(model),
                     head_iterations=None if head.iterations is None else int(keras.ops.convert_to_numpy(head.iterations)),
                     final_lambda=head.current_lambda(), final_loss=timer.last_logs.get("loss"),
                     images_per_second=timer.images_per_second)
        write_json(os.path.join(out, "final.json"), state)
        return state


def _damaged_records(err, data, backup_dir):
    lines = [line.strip() for line in str(getattr(err, "message", err)).splitlines() if line.strip()]
    detail = next((line for line in lines if "corrupted record" in line or "truncated record" in line), lines[-1] if lines else "")
    then = "continue with --resume (the last checkpoint is kept)" if os.path.isdir(backup_dir) else "run this command again"
    return FaceDataError(f"--data {data}: damaged TFRecord data ({detail[:200]}); run face/prepare.py again, then {then}")
