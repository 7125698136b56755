"""Face training throughput on this machine.

1. Input pipeline alone: images/s of make_dataset (read TFRecords of 112×96 JPEGs,
   decode, flip, shuffle, batch) over synthetic identities written to a temp folder
   (TensorFlow backend only).
2. SphereNet-20 + A-Softmax training step, images/s at batch 32, float32 and
   mixed_bfloat16, with and without XLA (a plain Keras Dense head as baseline on the
   same backbone, interleaved, so the ratio is like for like).
3. Parameter count and forward FLOPs of SphereNet-20.

    python bench/bench_face.py [--images 2000] [--steps 5] [--classes 10575]

On an accelerator without TensorFlow (Keras 3 with JAX), only the training part runs,
always compiled (XLA); `--peak-tflops` (the device's dense bf16/fp16 peak) adds the
fraction of peak reached, counting a training step as 3 × the forward FLOPs:

    KERAS_BACKEND=jax python bench/bench_face.py --precisions mixed_bfloat16 --batch 128 --peak-tflops 989
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from sphereface_tf import SoftmaxHead
from sphereface_tf.head import attach_head
from sphereface_tf.face.spherenet import forward_flops, spherenet


def bench_pipeline(n_images, batch=256):
    from sphereface_tf.face.data import make_dataset, scan_identity_folders, write_tfrecords
    from sphereface_tf.face.synthetic import make_identity_folders

    with tempfile.TemporaryDirectory() as tmp:
        make_identity_folders(os.path.join(tmp, "img"), identities=max(1, n_images // 20), per_identity=20, formats=("jpg",))
        write_tfrecords(scan_identity_folders(os.path.join(tmp, "img")), os.path.join(tmp, "rec"), shards=16, progress=False)
        ds = make_dataset(os.path.join(tmp, "rec"), batch, training=True)
        it = iter(ds)
        next(it)  # warm up
        steps = max(4, n_images // batch)
        start = time.perf_counter()
        for _ in range(steps):
            next(it)
        images_per_second = steps * batch / (time.perf_counter() - start)
        # a resumed run skips the records it has trained on (read, not decoded) before its first batch
        skip = 20 * steps
        start = time.perf_counter()
        next(iter(make_dataset(os.path.join(tmp, "rec"), batch, training=True, start_batch=skip)))
        skipped_per_second = skip * batch / (time.perf_counter() - start)
        return images_per_second, skipped_per_second


def bench_training(precision, xla, classes, steps, repeats, batch):
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch * steps, 112, 96, 3)).astype("float32")
    y = rng.integers(0, classes, batch * steps).astype("int32")
    models = {}
    angular, _ = attach_head(spherenet(20), SoftmaxHead(classes))
    dense = keras.Sequential([spherenet(20), keras.layers.Dense(classes, dtype="float32")])
    for name, model, inputs in (("dense", dense, x), ("angular", angular, [x, y])):
        model.compile(optimizer=keras.optimizers.SGD(1e-6, momentum=0.9), jit_compile=xla,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        models[name] = (model, inputs)
    times = {name: [] for name in models}
    for rep in range(repeats + 1):
        for name, (model, inputs) in models.items():
            start = time.perf_counter()
            model.fit(inputs, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
            if rep:
                times[name].append(time.perf_counter() - start)
    keras.config.set_dtype_policy("float32")
    return {name: batch * steps / statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="images for the pipeline measurement")
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per model (median), after one warm-up")
    parser.add_argument("--classes", type=int, default=10575)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--precisions", default="float32,mixed_bfloat16", help="comma-separated dtype policies")
    parser.add_argument("--xla", choices=["both", "on", "off"], default="both", help="JAX always compiles: on")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense peak, to print the fraction reached")
    args = parser.parse_args()
    backend = keras.config.backend()
    model = spherenet(20)
    flops = forward_flops(model)
    print(f"Keras {keras.__version__} ({backend}), {os.cpu_count()} CPUs")
    print(f"SphereNet-20: {model.count_params():,} parameters, {flops / 1e9:.2f} GFLOP forward per 112×96 image")
    if backend == "tensorflow":
        images, skipped = bench_pipeline(args.images)
        print(f"pipeline (TFRecords of JPEGs → decode, flip, shuffle, batch 256): {images:,.0f} images/s")
        print(f"resume: the data stream skips ahead at {skipped:,.0f} records/s")
    xla_modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla if backend == "tensorflow" else "on"]
    print(f"training step, batch {args.batch}, C = {args.classes}: images/s (median of {args.repeats} × {args.steps} steps)")
    peak = f" {'of peak':>8}" if args.peak_tflops else ""
    print(f"{'precision':>15} {'XLA':>4} {'dense head':>11} {'A-Softmax':>10} {'ratio':>6}{peak}")
    for precision in args.precisions.split(","):
        for xla in xla_modes:
            r = bench_training(precision, xla, args.classes, args.steps, args.repeats, args.batch)
            line = f"{precision:>15} {'on' if xla else 'off':>4} {r['dense']:11.1f} {r['angular']:10.1f} {r['dense'] / r['angular']:6.2f}"
            if args.peak_tflops:  # a training step ≈ 3 × forward FLOPs
                line += f" {r['angular'] * 3 * flops / (args.peak_tflops * 1e12):8.1%}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
