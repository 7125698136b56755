"""`fit`'s input for in-memory arrays: shuffled batches each epoch, without tf.data's epoch-boundary stalls.

On TensorFlow, `Model.fit` on NumPy arrays builds a new tf.data iterator over an autotuned pipeline every epoch; on a
2-core CPU the start of an epoch then sometimes stalls for about 5 s (the MNIST demo: 9.5–10 s epochs instead of
4.5–5 s, at random; measured with per-batch timers: the time is spent before the epoch's first batch, not in its
steps). `shuffled_batches` gives `fit` the same data, reshuffled each epoch from `seed`, through a fixed
single-threaded pipeline (autotuning off, one prefetched batch) that has no such stall. Other backends take the
arrays as they are.
"""

import keras


def shuffled_batches(inputs, targets, batch_size, seed):
    """Keyword arguments for `fit`: `inputs` (an array or a list of arrays) and `targets`, in shuffled batches.

    TensorFlow: `dict(x=<tf.data.Dataset>, shuffle=False)`, one pass per epoch in a new order drawn from `seed` (the
    same seed, the same orders). Other backends: `dict(x=inputs, y=targets, batch_size=batch_size, shuffle=True)`.
    Arrays of different lengths, or a batch size below 1, raise `ValueError`.
    """
    listed = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    lengths = [len(a) for a in listed]
    if any(n != len(targets) for n in lengths):
        raise ValueError(f"shuffled_batches: every input needs one row per target ({len(targets)} targets), got inputs "
                         f"of {lengths} rows; pass arrays of the same examples, in the same order")
    if int(batch_size) < 1:
        raise ValueError(f"shuffled_batches: batch_size must be >= 1, got {batch_size!r}")
    if keras.config.backend() != "tensorflow":
        return dict(x=inputs, y=targets, batch_size=batch_size, shuffle=True)
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    count = len(targets)
    arrays = tuple(tf.convert_to_tensor(a) for a in listed)
    targets = tf.convert_to_tensor(targets)
    shaped = tuple if isinstance(inputs, (list, tuple)) else (lambda xs: xs[0])  # tf.data takes tuples, not lists

    def gather(index):  # whole batches by index: one gather per array instead of a shuffle buffer of examples
        return shaped([tf.gather(a, index) for a in arrays]), tf.gather(targets, index)

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    dataset = (tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True)
               .batch(int(batch_size)).map(gather).prefetch(1).with_options(options))
    return dict(x=dataset, shuffle=False)  # the dataset shuffles itself; fit's default True would only warn
