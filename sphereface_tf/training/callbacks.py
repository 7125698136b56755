"""Keras callbacks for long training runs: timing, checkpoints, interruption, TensorBoard scalars, feature snapshots."""

import dataclasses
import math
import os
import signal
import threading
import time

import h5py
import keras
import numpy as np

from sphereface_tf.util.errors import InputError, TrainingDiverged
from sphereface_tf.util.files import write_json


class EpochTimer(keras.callbacks.Callback):
    """Records wall-clock seconds per epoch in `epoch_seconds` and the logs ("epoch_seconds").

    With `images_per_step` (the global batch size) it also logs "images_per_second".
    """

    def __init__(self, images_per_step=None):
        super().__init__()
        self.images_per_step = images_per_step

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []
        self.images_per_second = []
        self.last_logs = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._batches = 0

    def on_train_batch_begin(self, batch, logs=None):  # not _end: Keras then keeps dispatching steps asynchronously
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.epoch_seconds.append(round(seconds, 3))
        self.last_logs = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        if logs is not None:
            logs["epoch_seconds"] = seconds
        if self.images_per_step and self._batches:  # counted: an epoch may stop early
            rate = self.images_per_step * self._batches / seconds
            self.images_per_second.append(round(rate, 2))
            if logs is not None:
                logs["images_per_second"] = rate


BACKUP_METADATA = "training_metadata.json"  # the file name keras.callbacks.BackupAndRestore uses
BACKUP_WEIGHTS = "latest.weights.h5"  # ... and its weights file (with ".bkp" for the previous one)


def checkpointed_step(backup_dir):
    """The optimizer's step counter saved in the checkpoint in `backup_dir` (0 when there is none).

    Read from the weights file that `keras.callbacks.BackupAndRestore` and
    `CheckpointOnInterrupt` write (falling back to the previous one if it is
    unreadable, as BackupAndRestore does), so a resumed run can start its data
    stream where the checkpoint left it before `fit` restores the weights. The
    step, not the epoch and batch of the metadata: a run resumed mid-epoch
    restarts that epoch, which shifts later epochs against the step count.
    """
    path = os.path.join(backup_dir, BACKUP_WEIGHTS)
    if not os.path.exists(path):
        return 0
    errors = []
    for candidate in (path, path + ".bkp"):
        try:
            with h5py.File(candidate, "r") as handle:
                optimizer = handle["optimizer"]
                if "inner_optimizer" in optimizer:  # LossScaleOptimizer (mixed_float16)
                    optimizer = optimizer["inner_optimizer"]
                return int(optimizer["vars"]["0"][()])  # the first optimizer variable is its iteration counter
        except (OSError, KeyError) as err:
            errors.append(f"{candidate}: {err}")
    raise InputError(f"{backup_dir}: no readable checkpoint ({'; '.join(errors)}); start afresh in a new --out")


def backup_and_restore(backup_dir):
    """`keras.callbacks.BackupAndRestore` saving at epoch ends, keeping the previous checkpoint, async-safe."""
    callback = keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", delete_checkpoint=True,
                                                double_checkpoint=True)
    callback.async_safe = True  # its batch hook does nothing with save_freq="epoch"
    return callback


def optimizer_step(model):
    """The optimizer's step counter as an int (saved with the weights)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class StopAtStep(keras.callbacks.Callback):
    """Ends `fit` once the optimizer has taken `steps` steps in total, mid-epoch if need be.

    Resuming from a checkpoint taken inside an epoch restarts that epoch; this
    keeps the run's total step count exact.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = int(steps)

    def on_train_begin(self, logs=None):
        self._remaining = None

    def on_train_batch_begin(self, batch, logs=None):
        # Read the counter once, at the first batch: after any callback's on_train_begin
        # (BackupAndRestore) has restored it. Then each batch is one step: no per-step device
        # read, and no batch-end hook (which would make Keras wait for every step under JAX).
        if self._remaining is None:
            self._remaining = self.steps - optimizer_step(self.model)
        self._remaining -= 1
        if self._remaining <= 0:
            self.model.stop_training = True  # fit stops once this batch is done


class CheckpointOnInterrupt(keras.callbacks.Callback):
    """On SIGINT or SIGTERM: finish the current step, checkpoint, and exit (status 128 + signal).

    A signal during the last step lets the run finish normally instead.

    Writes the files of `keras.callbacks.BackupAndRestore(backup_dir)` (weights
    with the optimizer state and step counter, plus the epoch), so the same
    `BackupAndRestore` restores it on the next `fit`; with `StopAtStep` the
    resumed run still ends at the planned step. Nothing since the last step is
    lost, where a kill loses the steps since the last periodic checkpoint.
    Files are written under temporary names and renamed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = backup_dir
        self._previous = {}

    def on_train_begin(self, logs=None):
        self.received = None
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.received is not None:  # a second signal: give up at once
            raise KeyboardInterrupt
        self.received = signum
        print(f"\n{signal.Signals(signum).name}: checkpointing after this step, then exiting", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        # At the start of the next step, the previous one is complete: save it. (A batch-begin
        # hook, unlike a batch-end one, lets Keras keep dispatching steps asynchronously.)
        if self.received is None:
            return
        if hasattr(self.model, "jax_state_sync"):  # JAX: the variables lag behind the training state
            self.model.jax_state_sync()
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = os.path.join(self.backup_dir, BACKUP_WEIGHTS)
        partial = os.path.join(self.backup_dir, ".partial.weights.h5")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, weights)
        write_json(os.path.join(self.backup_dir, BACKUP_METADATA), {"epoch": self._epoch, "batch": batch})
        print(f"checkpoint at step {optimizer_step(self.model)} in {self.backup_dir}; continue with --resume", flush=True)
        self._restore_handlers()
        raise SystemExit(128 + self.received)

    def on_train_end(self, logs=None):
        self._restore_handlers()

    def _restore_handlers(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class TensorBoardScalars(keras.callbacks.Callback):
    """Scalar logs for TensorBoard on any backend, without TensorFlow and without slowing `fit`.

    Writes `log_dir/train/events.*` with `epoch_<name>` for every epoch log (loss,
    accuracy, λ, learning rate, images/s) and `batch_<name>` every `update_freq`
    steps, through TensorBoard's own event writer (the `tensorboard` package). It is
    async-safe: Keras may call it from a worker thread, so steps are computed from
    the batch index it is given and writes are serialised, and under JAX `fit`
    never waits for a step to finish because of it.
    """

    async_safe = True

    def __init__(self, log_dir, update_freq=100):
        super().__init__()
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401  (deferred: tensorboard is optional; fail early)

        self.log_dir, self.update_freq = log_dir, int(update_freq)
        self._lock = threading.Lock()
        self._writer = None

    def _write(self, step, prefix, logs):
        from tensorboard.compat.proto import event_pb2, summary_pb2  # deferred: tensorboard is optional
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # deferred: tensorboard is optional

        values = [summary_pb2.Summary.Value(tag=f"{prefix}_{name}", simple_value=float(value))
                  for name, value in (logs or {}).items() if isinstance(value, (int, float)) and not isinstance(value, bool)]
        if not values:
            return
        with self._lock:
            if self._writer is None:
                self._writer = EventFileWriter(os.path.join(self.log_dir, "train"))
            self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                                   summary=summary_pb2.Summary(value=values)))

    def on_epoch_begin(self, epoch, logs=None):
        # after every on_train_begin (BackupAndRestore's restore): resumed runs continue the step axis
        self._epoch_start = optimizer_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq and (batch + 1) % self.update_freq == 0:
            self._write(self._epoch_start + batch + 1, "batch", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._write(optimizer_step(self.model), "epoch", logs)

    def on_train_end(self, logs=None):
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def _finite(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops a run at the end of the epoch in which the loss or a weight stopped being finite.

    Raises `TrainingDiverged` naming the first step whose loss was not finite, `what`
    (e.g. the variant and learning rate) and what to do. Place it before the checkpoint
    callback: the diverged epoch is then never saved, and the last checkpoint stays
    finite for `--resume`. The per-step check reads the running loss in Keras' worker
    thread (async-safe: under JAX `fit` does not wait for each step); the epoch-end check
    also looks at every weight once.
    """

    async_safe = True

    def __init__(self, what="", hint="run again with a lower learning rate"):
        super().__init__()
        self.what, self.hint = what, hint
        self.first_bad_step = None

    def on_train_begin(self, logs=None):
        self.first_bad_step = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = optimizer_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        # the epoch's running mean: once one step's loss is NaN or inf, it stays so
        if self.first_bad_step is None and logs and not _finite(logs.get("loss", 0.0)):
            self.first_bad_step = self._epoch_start + batch + 1

    def on_epoch_end(self, epoch, logs=None):
        bad_weights = []
        if hasattr(self.model, "jax_state_sync"):  # JAX: the variables lag behind the training state
            self.model.jax_state_sync()
        for variable in self.model.weights:
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable))):
                bad_weights.append(variable.path)
        loss = (logs or {}).get("loss")
        if self.first_bad_step is None and loss is not None and not _finite(loss):
            self.first_bad_step = optimizer_step(self.model)  # no per-step logs (a backend without batch hooks)
        if self.first_bad_step is None and not bad_weights:
            return
        self.model.stop_training = True
        where = (f"the loss is not finite from step {self.first_bad_step}" if self.first_bad_step is not None
                 else f"weights are not finite at step {optimizer_step(self.model)}")
        if bad_weights:
            where += f" ({len(bad_weights)} weight(s) not finite, e.g. {bad_weights[0]})"
        raise TrainingDiverged(f"training diverged: {where}; {self.what}; {self.hint}")


class RunCSVLogger(keras.callbacks.CSVLogger):
    """`keras.callbacks.CSVLogger` whose columns are the logged keys alone.

    Keras adds a `val_<name>` column for every key when a run has no validation data
    (for runs that validate only every few epochs); they would stay empty here.
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None and logs:
            self.keys = sorted(logs)
        super().on_epoch_end(epoch, logs)


@dataclasses.dataclass
class FeatureFrame:
    """The state of an embedding at one epoch: what one frame of a training animation shows.

    `epoch` is the number of epochs trained (0: before training), `lam` the head's λ (None
    without an angular head), `features` (N, D) float32 and `weights` the head's class
    weights (D, C) float32, or None without a head.
    """

    epoch: int
    lam: float | None
    features: np.ndarray
    weights: np.ndarray | None


class FeatureSnapshots(keras.callbacks.Callback):
    """Keeps the features of a fixed set of inputs before training and after every epoch.

    `frames` is a list of `FeatureFrame`: one at the start of training (epoch 0, or the
    epoch a resumed run starts from: it is taken at the first epoch's start, after every
    `on_train_begin`, so a restored checkpoint is what it shows) and one at each epoch end,
    with `feature_model.predict(images)` (float32), and of `head` (a `SoftmaxHead`, or
    None) its class weights and, for the angular variant, its current λ. `feature_model`
    shares its weights with the model being trained (e.g. the backbone of `attach_head`).
    Small: `images` is meant to be a subset of, say, a thousand inputs.
    """

    def __init__(self, feature_model, images, head=None, batch_size=1024):
        super().__init__()
        # one batch where it fits: no partial last batch to trace again
        self.feature_model, self.images, self.head = feature_model, images, head
        self.batch_size = int(min(batch_size, max(1, len(images))))
        self.frames = []

    def on_train_begin(self, logs=None):
        self.frames = []

    def on_epoch_begin(self, epoch, logs=None):
        if not self.frames:
            self._snapshot(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._snapshot(epoch + 1)

    def _snapshot(self, epoch):
        if hasattr(self.model, "jax_state_sync"):  # JAX: the variables lag behind the training state
            self.model.jax_state_sync()
        features = self.feature_model.predict(self.images, batch_size=self.batch_size, verbose=0)
        head = self.head
        lam = head.current_lambda() if head is not None and getattr(head, "variant", None) == "angular" else None
        weights = None if head is None else np.asarray(keras.ops.convert_to_numpy(head.kernel), dtype=np.float32)
        self.frames.append(FeatureFrame(int(epoch), None if lam is None else float(lam),
                                        np.asarray(features, dtype=np.float32), weights))
