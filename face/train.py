#!/usr/bin/env python
"""Train SphereNet + A-Softmax on face TFRecords (from face/prepare.py).

  python face/train.py --config face/configs/sphereface20_casia.toml
  python face/train.py --config ... --precision mixed_bfloat16 --batch-size 128 --out runs/x
  python face/train.py --config ... --out runs/x --resume      # continue an interrupted run

Defaults are the paper's recipe (see the config). Every config key is also a flag.
Training is split into "epochs" of --checkpoint-every steps: at the end of each, the
full state (weights, optimizer with its step counter and learning-rate schedule,
the head's λ step counter) is saved, and λ, learning rate and images/s are logged.
Ctrl-C or SIGTERM (a scheduler's pre-emption) checkpoints after the current step and
exits with status 130 / 143; a killed run (SIGKILL, power loss) loses at most the steps
since its last checkpoint. Either way --resume continues to the same final step.

Runs on the TensorFlow and the JAX backend (KERAS_BACKEND=jax: no TensorFlow needed
with a decoded cache, `face/prepare.py --format cache`). --data is a folder written by
face/prepare.py, TFRecords or cache. Several devices: TensorFlow's MirroredStrategy /
MultiWorkerMirroredStrategy (TF_CONFIG), or on JAX keras.distribution.DataParallel over
the local devices / every process's devices (KERAS_DISTRIBUTION_* variables; see
docs/face.md). --batch-size is global.
"""

import argparse
import json
import os
import sys
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)

from sphereface_tf import cli  # noqa: E402

DEFAULTS = dict(
    data="data/casia-webface-tfrecords", out="runs/sphereface20-casia", depth=20, embedding_dim=512,
    variant="angular", m=4, lambda_base=1000.0, lambda_gamma=0.12, lambda_power=1.0, lambda_min=5.0,
    batch_size=256, learning_rate=0.1, lr_boundaries=[16000, 24000], lr_decay=0.1, momentum=0.9,
    weight_decay=5e-4, steps=28000, checkpoint_every=1000, log_every=100, precision="auto", xla="auto",
    distribute="auto", shuffle_buffer=10000, seed=0, deterministic=False,
)
CHOICES = dict(
    variant=("original", "modified", "angular"), precision=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
    xla=("auto", "true", "false"), distribute=("auto", "none", "mirrored", "multiworker"),
    deterministic=("false", "true"),
)


def _flag(key):
    return "--" + key.replace("_", "-")


def check_config_value(key, value, where):
    """The value of config key `key` as the flag would take it; ConfigError if it has the wrong type or choice."""
    from sphereface_tf.errors import ConfigError

    default = DEFAULTS[key]
    if key in CHOICES:
        text = str(value).lower()
        if isinstance(value, (str, bool)) and text in CHOICES[key]:
            return text
        expected = f"one of {', '.join(map(repr, CHOICES[key]))}"
    elif isinstance(default, list):
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value
        expected = "a list of whole numbers, e.g. [16000, 24000]"
    elif isinstance(default, bool) or isinstance(default, str):
        if isinstance(value, type(default)):
            return value
        expected = f"a {type(default).__name__}"
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        expected = "a whole number"
    else:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        expected = "a number"
    raise ConfigError(f"{where}: {key} = {value!r}: expected {expected}")


def load_config(argv=None):
    from sphereface_tf.errors import ConfigError

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    config = dict(DEFAULTS)
    if known.config:
        if not os.path.isfile(known.config):
            raise ConfigError(f"--config {known.config}: config file not found")
        try:
            with open(known.config, "rb") as handle:
                loaded = tomllib.load(handle)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"--config {known.config}: not valid TOML ({err}); see face/configs/ for an example") from err
        unknown = sorted(set(loaded) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"--config {known.config}: unknown keys {unknown}; known keys: {sorted(DEFAULTS)}")
        config.update({key: check_config_value(key, value, f"--config {known.config}") for key, value in loaded.items()})
    parser = argparse.ArgumentParser(
        prog="face/train.py", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="TOML config file (keys as the flags below, with underscores)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--crash-after-steps", type=int, help=argparse.SUPPRESS)  # kill-and-resume tests
    parser.add_argument("--interrupt-after-steps", type=int, help=argparse.SUPPRESS)  # SIGTERM-and-resume tests
    for key, default in DEFAULTS.items():
        kwargs = dict(default=config[key], help=f"(default {config[key]!r})")
        if key in CHOICES:
            kwargs["choices"] = CHOICES[key]
            kwargs["type"] = lambda v: str(v).lower()
            kwargs["default"] = str(config[key]).lower()
        elif isinstance(default, list):
            kwargs.update(type=int, nargs="+")
        else:
            kwargs["type"] = type(default)
        parser.add_argument(_flag(key), dest=key, **kwargs)
    args = parser.parse_args(argv)
    for key in ("batch_size", "steps", "checkpoint_every", "log_every", "m", "embedding_dim"):
        if getattr(args, key) < 1:
            parser.error(f"{_flag(key)} must be >= 1")
    for key in ("learning_rate", "lr_decay"):
        if not getattr(args, key) > 0:
            parser.error(f"{_flag(key)} must be > 0")
    for key in ("weight_decay", "lambda_base", "lambda_gamma", "lambda_power", "lambda_min", "momentum"):
        if not 0 <= getattr(args, key) < float("inf"):
            parser.error(f"{_flag(key)} must be a finite number >= 0")
    if args.depth not in (4, 10, 20, 36, 64):
        parser.error(f"--depth must be one of 4, 10, 20, 36, 64 (SphereNet-N of the paper), got {args.depth}")
    if args.steps % args.checkpoint_every:
        parser.error(f"--steps ({args.steps}) must be a multiple of --checkpoint-every ({args.checkpoint_every})")
    return args


def main(argv=None):
    args = load_config(argv)
    import keras

    from sphereface_tf import SoftmaxHead
    from sphereface_tf.callbacks import checkpointed_step, optimizer_step
    from sphereface_tf.distribute import auto_precision, data_parallel, enable_multiworker_fit, local_accelerators
    from sphereface_tf.errors import InputError, check_output_dir
    from sphereface_tf.facedata import FaceDataError, num_classes, training_input
    from sphereface_tf.io import save_model, write_json
    from sphereface_tf.models import attach_head
    from sphereface_tf.spherenet import spherenet

    backend = keras.config.backend()
    plan = data_parallel(args.distribute)  # first: multi-process JAX must start before any device is touched
    precision = auto_precision() if args.precision == "auto" else args.precision
    # JAX always compiles with XLA; TensorFlow's XLA pays off on GPUs (on CPUs it is slower)
    xla = (backend == "jax" or bool(local_accelerators())) if args.xla == "auto" else args.xla == "true"
    backup_dir = os.path.join(args.out, "backup")
    check_output_dir(args.out)
    if os.path.isdir(backup_dir) and not args.resume:
        raise InputError(f"--out {args.out} holds an unfinished run; pass --resume to continue it or choose another --out")
    if args.resume and not os.path.isdir(backup_dir):
        raise InputError(f"--resume: no checkpoint in {backup_dir}; start without --resume")
    classes = num_classes(args.data)
    start = checkpointed_step(backup_dir) if args.resume else 0
    stream, data_format = training_input(args.data, args.batch_size, seed=args.seed, start_batch=start,
                                         deterministic=args.deterministic == "true",
                                         shuffle_buffer=args.shuffle_buffer, shard=plan.shard)

    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(precision)
    with plan.scope():
        backbone = spherenet(args.depth, args.embedding_dim)
        head_kwargs = dict(m=args.m, lambda_base=args.lambda_base, lambda_gamma=args.lambda_gamma,
                           lambda_power=args.lambda_power, lambda_min=args.lambda_min) if args.variant == "angular" else {}
        head = SoftmaxHead(classes, variant=args.variant, name="softmax_head", **head_kwargs)
        model, _ = attach_head(backbone, head, name=f"spherenet{args.depth}_{args.variant}")
        values = [args.learning_rate * args.lr_decay**k for k in range(len(args.lr_boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(args.lr_boundaries, values)
        optimizer = keras.optimizers.SGD(schedule, momentum=args.momentum, weight_decay=args.weight_decay)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=xla)
        enable_multiworker_fit(model)  # TensorFlow: mends two Keras 3.15 bugs under MultiWorkerMirroredStrategy

    os.makedirs(args.out, exist_ok=True)
    settings = dict(vars(args), backend=backend, precision_used=precision, xla_used=xla, data_format=data_format,
                    distribution=plan.name, replicas=plan.replicas, num_classes=classes,
                    parameters=int(backbone.count_params()))
    write_json(os.path.join(args.out, "config.json"), settings)
    print(f"SphereNet-{args.depth}, {classes} classes, {backend}, {precision}, XLA {'on' if xla else 'off'}, "
          f"{plan.replicas} replica(s), global batch {args.batch_size}, {data_format} input"
          + (f"; resuming at step {start}, data stream started at batch {start}" if args.resume else ""))

    callbacks, timer = training_callbacks(args, backup_dir)
    try:
        model.fit(stream, epochs=args.steps // args.checkpoint_every, steps_per_epoch=args.checkpoint_every,
                  callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2, shuffle=False)
    except Exception as err:
        if type(err).__name__ != "DataLossError":  # tf.data met a damaged TFRecord mid-run
            raise
        lines = [line.strip() for line in str(getattr(err, "message", err)).splitlines() if line.strip()]
        detail = next((line for line in lines if "corrupted record" in line or "truncated record" in line), lines[-1] if lines else "")
        then = ("continue with --resume (the last checkpoint is kept)" if os.path.isdir(backup_dir)
                else "run this command again")
        raise FaceDataError(f"--data {args.data}: damaged TFRecord data ({detail[:200]}); run face/prepare.py again, "
                            f"then {then}") from err
    save_model(model, os.path.join(args.out, "model.keras"))
    save_model(backbone, os.path.join(args.out, "embedding.keras"))
    state = dict(steps=optimizer_step(model),
                 head_iterations=None if head.iterations is None else int(keras.ops.convert_to_numpy(head.iterations)),
                 final_lambda=head.current_lambda(), images_per_second=timer.images_per_second)
    write_json(os.path.join(args.out, "final.json"), state)
    print(json.dumps(state))
    return 0


def training_callbacks(args, backup_dir):
    """The callbacks of a run, and its EpochTimer. None has a batch-end hook (the test hooks aside):
    under JAX, Keras then dispatches step after step without waiting for each to finish."""
    import keras

    from sphereface_tf import LambdaLogger
    from sphereface_tf.callbacks import CheckpointOnInterrupt, EpochTimer, StopAtStep, TensorBoardScalars, backup_and_restore

    timer = EpochTimer(images_per_step=args.batch_size)
    callbacks = [
        timer, LambdaLogger(),
        StopAtStep(args.steps),  # a run resumed from a mid-interval checkpoint still ends at --steps
        backup_and_restore(backup_dir),
        keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv"), append=True),
    ]
    try:
        callbacks.append(TensorBoardScalars(os.path.join(args.out, "logs"), update_freq=args.log_every))
    except ImportError:
        print("note: the tensorboard package is not installed; no TensorBoard logs (log.csv has the same figures)")
    if args.crash_after_steps:
        callbacks.append(after_steps(args.crash_after_steps, hard_kill))
    if args.interrupt_after_steps:
        callbacks.append(after_steps(args.interrupt_after_steps, send_sigterm))
    callbacks.append(CheckpointOnInterrupt(backup_dir))  # Ctrl-C / SIGTERM: checkpoint this step, exit
    return callbacks, timer


def after_steps(steps, action):
    """A callback that calls `action()` once, after `steps` training steps of this process (test hooks)."""
    import keras

    class AfterSteps(keras.callbacks.Callback):
        seen = 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == steps:
                action()

    return AfterSteps()


def hard_kill():
    """Die at once, as on SIGKILL: no cleanup, no checkpoint."""
    sys.stdout.flush()
    os._exit(9)


def send_sigterm():
    """Send this process SIGTERM, as a scheduler pre-empting the job would."""
    import signal

    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(cli.main(main))
