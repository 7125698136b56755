"""Keras callbacks around `SoftmaxHead` and long training runs."""

import json
import os
import signal
import time

import keras


def find_heads(model):
    """All angular `SoftmaxHead` layers of a model (searching nested models)."""
    from sphereface_tf.layers import SoftmaxHead

    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, SoftmaxHead) and layer.variant == "angular":
            found.append(layer)
        found.extend(h for h in find_heads(layer) if h not in found)
    return found


class LambdaLogger(keras.callbacks.Callback):
    """Adds the current λ of the model's angular head(s) to the epoch logs.

    Place it before `TensorBoard`/`CSVLogger` in the callback list so they
    record it (key "lambda", or "lambda/<layer name>" for several heads). Also
    logs the optimizer's learning rate as "learning_rate".
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        heads = find_heads(self.model)
        if len(heads) == 1:
            logs["lambda"] = heads[0].current_lambda()
        else:
            for head in heads:
                logs[f"lambda/{head.name}"] = head.current_lambda()
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in logs:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


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

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.epoch_seconds.append(round(seconds, 3))
        if logs is not None:
            logs["epoch_seconds"] = seconds
        if self.images_per_step and self._batches:  # counted: an epoch may stop early
            rate = self.images_per_step * self._batches / seconds
            self.images_per_second.append(round(rate, 2))
            if logs is not None:
                logs["images_per_second"] = rate


BACKUP_METADATA = "training_metadata.json"  # the file name keras.callbacks.BackupAndRestore uses


def checkpointed_step(backup_dir, steps_per_epoch):
    """Training steps behind the checkpoint in `backup_dir` (0 when there is none).

    Reads the `training_metadata.json` that `keras.callbacks.BackupAndRestore`
    (whole epochs, batch 0) and `CheckpointOnInterrupt` (mid-epoch) write, so a
    resumed run can start its data stream where the checkpoint left it, before
    `fit` restores the weights.
    """
    path = os.path.join(backup_dir, BACKUP_METADATA)
    if not os.path.exists(path):
        return 0
    with open(path) as handle:
        meta = json.load(handle)
    return int(meta["epoch"]) * int(steps_per_epoch) + int(meta.get("batch") or 0)


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
        # (BackupAndRestore) has restored it. Then each batch is one step: no per-step device read.
        if self._remaining is None:
            self._remaining = self.steps - optimizer_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self._remaining -= 1
        if self._remaining <= 0:
            self.model.stop_training = True


class CheckpointOnInterrupt(keras.callbacks.Callback):
    """On SIGINT or SIGTERM: finish the current step, checkpoint, and exit (status 128 + signal).

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

    def on_train_batch_end(self, batch, logs=None):
        if self.received is None:
            return
        from sphereface_tf.io import write_json

        os.makedirs(self.backup_dir, exist_ok=True)
        weights = os.path.join(self.backup_dir, "latest.weights.h5")
        partial = os.path.join(self.backup_dir, ".partial.weights.h5")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, weights)
        write_json(os.path.join(self.backup_dir, BACKUP_METADATA), {"epoch": self._epoch, "batch": batch + 1})
        print(f"checkpoint at step {optimizer_step(self.model)} in {self.backup_dir}; continue with --resume", flush=True)
        self._restore_handlers()
        raise SystemExit(128 + self.received)

    def on_train_end(self, logs=None):
        self._restore_handlers()

    def _restore_handlers(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
