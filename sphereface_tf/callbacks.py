"""Keras callbacks around `SoftmaxHead`."""

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

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.epoch_seconds.append(round(seconds, 3))
        if logs is not None:
            logs["epoch_seconds"] = seconds
        if self.images_per_step and self.params.get("steps"):
            rate = self.images_per_step * self.params["steps"] / seconds
            self.images_per_second.append(round(rate, 2))
            if logs is not None:
                logs["images_per_second"] = rate
