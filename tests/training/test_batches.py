"""`shuffled_batches`: fit's input for in-memory arrays (the MNIST demo's training data)."""

import re

import keras
import numpy as np
import pytest

from sphereface_tf.training.batches import shuffled_batches


def _epochs(kwargs, count):
    """The batches of `count` passes over the dataset, as lists of (inputs, targets) NumPy pairs."""
    dataset = kwargs["x"]
    return [[(tuple(np.asarray(a) for a in x), np.asarray(y)) for x, y in dataset] for _ in range(count)]


@pytest.mark.skipif(keras.config.backend() != "tensorflow", reason="the tf.data path is TensorFlow's")
def test_every_epoch_is_a_new_permutation_of_all_examples_and_the_seed_fixes_the_orders():
    images = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    labels = np.arange(10, dtype=np.int32)
    kwargs = shuffled_batches([images, labels], labels, batch_size=4, seed=3)
    assert set(kwargs) == {"x", "shuffle"} and kwargs["shuffle"] is False  # no y / batch_size beside a dataset
    epochs = _epochs(kwargs, 3)
    orders = []
    for batches in epochs:
        assert [len(y) for _, y in batches] == [4, 4, 2]  # the last batch partial, as fit's own batching
        order = np.concatenate([y for _, y in batches])
        assert sorted(order.tolist()) == list(range(10))  # each example once
        for (x_images, x_labels), y in batches:  # rows stay together: image k belongs to label k
            np.testing.assert_array_equal(x_images, images[y])
            np.testing.assert_array_equal(x_labels, y)
        orders.append(order.tolist())
    assert len({tuple(o) for o in orders}) == 3  # reshuffled each epoch
    again = [np.concatenate([y for _, y in b]).tolist() for b in _epochs(shuffled_batches([images, labels], labels, 4, seed=3), 3)]
    assert again == orders  # the same seed, the same orders
    other = [np.concatenate([y for _, y in b]).tolist() for b in _epochs(shuffled_batches([images, labels], labels, 4, seed=4), 3)]
    assert other != orders


@pytest.mark.skipif(keras.config.backend() != "tensorflow", reason="the tf.data path is TensorFlow's")
def test_a_single_input_array_and_fit_train_on_it():
    images = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    labels = (images[:, 0] > 0).astype(np.int32)
    kwargs = shuffled_batches(images, labels, batch_size=5, seed=0)
    x, y = next(iter(kwargs["x"]))
    assert tuple(x.shape) == (5, 3) and tuple(y.shape) == (5,)  # the array itself, not a 1-tuple
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(**kwargs, epochs=2, verbose=0).history
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()


def test_other_backends_get_the_arrays_for_fit_to_shuffle(monkeypatch):
    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    images, labels = np.zeros((4, 2), np.float32), np.zeros(4, np.int32)
    kwargs = shuffled_batches([images, labels], labels, batch_size=2, seed=0)
    assert kwargs["batch_size"] == 2 and kwargs["shuffle"] is True and kwargs["y"] is labels and kwargs["x"][0] is images


@pytest.mark.parametrize("rows, batch_size, words", [(5, 2, "one row per target (4 targets)"), (4, 0, "batch_size must be >= 1")])
def test_mismatched_rows_or_no_batch_say_what_is_wrong(rows, batch_size, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        shuffled_batches([np.zeros((rows, 2), np.float32), np.zeros(4, np.int32)], np.zeros(4, np.int32), batch_size, seed=0)
