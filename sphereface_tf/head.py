"""Wiring a backbone to a `SoftmaxHead`, and watching its λ during training."""

import keras

from sphereface_tf.layers import SoftmaxHead


def attach_head(backbone, head, name=None, augment=None):
    """Wire `backbone` (image → features) to `head` (a `SoftmaxHead`).

    Returns `(train_model, inference_model)` sharing all weights:
      * `train_model([images, labels])` → logits with the margin applied in
        training (labels are its second input, also the fit target);
      * `inference_model(images)` → margin-free logits.

    `augment`, a layer or list of layers active only in training (e.g.
    `keras.layers.RandomTranslation`), is applied to the images of the train
    model before the backbone; the inference model never sees it.
    """
    if not isinstance(head, SoftmaxHead):
        raise TypeError(f"`head` must be a SoftmaxHead, got {type(head).__name__}.")
    images = keras.Input(backbone.input_shape[1:], name="image")
    labels = keras.Input((), dtype="int32", name="label")
    if augment is None:
        augment = []
    elif not isinstance(augment, (list, tuple)):
        augment = [augment]
    x = images
    for layer in augment:
        x = layer(x)
    features = backbone(x)
    name = name or f"{backbone.name}_{head.variant}"
    train_model = keras.Model([images, labels], head([features, labels]), name=name)
    clean_features = backbone(images) if augment else features
    inference_model = keras.Model(images, head(clean_features), name=f"{name}_inference")
    return train_model, inference_model


def find_heads(model):
    """All angular `SoftmaxHead` layers of a model (searching nested models)."""
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
