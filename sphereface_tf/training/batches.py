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

    TensorFlow: `dict(x=<tf.data.Dataset>, shuffle=False)`, one pass per epoch in a new order drawn from `seed` (the same seed, the
    same orders). Other backends: `dict(x=inputs, y=targets, batch_size=batch_size, shuffle=True)`.
    """
    if keras.config.backend() != "tensorflow":
        return dict(x=inputs, y=targets, batch_size=batch_size, shuffle=True)
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    count = len(targets)
    arrays = tuple(tf.convert_to_tensor(a) for a in (inputs if isinstance(inputs, (list, tuple)) else [inputs]))
    targets = tf.convert_to_tensor(targets)
    shaped = tuple if isinstance(inputs, (list, tuple)) else (lambda xs: xs[0])  # tf.data takes tuples, not lists

    def gather(index):  # whole batches by index: one gather per array instead of a shuffle buffer of examples
        return shaped([tf.gather(a, index) for a in arrays]), tf.gather(targets, index)

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    dataset = (tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size).map(gather).prefetch(1).with_options(options))
    return dict(x=dataset, shuffle=False)  # the dataset shuffles itself; fit's default True would only warn
