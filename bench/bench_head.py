"""Time per training step of SoftmaxHead against a plain `keras.layers.Dense` head.

Two levels, each measured in one run with the variants interleaved (median of
repeats), so the printed ratios compare like with like:

1. head only: forward + backward of the loss w.r.t. the features and the head's
   weights, B=256, D=512, C=10 and C=10,575 (CASIA-WebFace's identities);
2. whole model: one `fit` step of the MNIST CNN (3-D embedding) with each head.

    python bench/bench_head.py [--repeats 7] [--steps 20] [--xla]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from sphereface_tf import SoftmaxHead
from sphereface_tf.head import attach_head
from sphereface_tf.mnist.model import mnist_cnn

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def head_step(head, x, y, takes_labels, jit):
    @tf.function(jit_compile=jit)
    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = head([x, y], training=True) if takes_labels else head(x, training=True)
            loss = LOSS(y, logits)
        return tape.gradient(loss, [x, *head.trainable_variables])

    return lambda: [g.numpy() for g in step(x, y)][0]


def timed(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def bench_heads(batch, dim, classes, repeats, steps, jit):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, dim)).astype("float32"))
    y = tf.constant(rng.integers(0, classes, batch).astype("int32"))
    candidates = {
        "dense": (keras.layers.Dense(classes), False),
        "original": (SoftmaxHead(classes, variant="original"), True),
        "modified": (SoftmaxHead(classes, variant="modified"), True),
        "angular": (SoftmaxHead(classes, variant="angular"), True),
    }
    fns = {name: head_step(layer, x, y, takes, jit) for name, (layer, takes) in candidates.items()}
    for fn in fns.values():  # trace + warm up
        fn(), fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, steps))
    return {name: statistics.median(t) for name, t in times.items()}


def bench_models(repeats, steps, jit, batch=64):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch * steps, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, batch * steps).astype("int32")
    keras.utils.set_random_seed(0)
    widths = (16, 32, 64)  # the demo's CNN
    dense = keras.Sequential([mnist_cnn(3, widths=widths), keras.layers.Dense(10)])
    angular, _ = attach_head(mnist_cnn(3, widths=widths), SoftmaxHead(10))
    fits = {
        "dense": (dense, images, labels),
        "angular": (angular, [images, labels], labels),
    }
    for model, _, _ in fits.values():
        # A tiny learning rate keeps the weights near their initial values, so that
        # neither model drifts into denormals or NaN while it is being timed.
        model.compile(optimizer=keras.optimizers.SGD(1e-6), loss=LOSS, jit_compile=jit)
    times = {name: [] for name in fits}
    for rep in range(repeats + 1):
        for name, (model, x, y) in fits.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
            if rep:  # the first round traces and warms up
                times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--xla", action="store_true", help="compile the steps with XLA")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, backend {keras.config.backend()}, "
          f"XLA {'on' if args.xla else 'off'}, {os.cpu_count()} CPUs; median of {args.repeats} × {args.steps} steps")
    print("\nHead only, forward + backward, B=256, D=512")
    print(f"{'C':>7} {'head':>9} {'ms/step':>9} {'× dense':>8}")
    for classes in (10, 10575):
        result = bench_heads(256, 512, classes, args.repeats, args.steps, args.xla)
        for name, seconds in result.items():
            print(f"{classes:>7} {name:>9} {seconds * 1e3:9.3f} {seconds / result['dense']:8.2f}")
    print("\nWhole model: the demo's MNIST CNN (widths 16/32/64, 3-D embedding), one fit step at batch 64")
    result = bench_models(args.repeats, args.steps, args.xla)
    for name, seconds in result.items():
        print(f"{'':>7} {name:>9} {seconds * 1e3:9.3f} {seconds / result['dense']:8.2f}")


if __name__ == "__main__":
    main()
