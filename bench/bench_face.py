"""Face training throughput on this machine.

1. Input pipeline alone: images/s of make_dataset (read TFRecords of 112×96 JPEGs,
   decode, flip, shuffle, batch) over synthetic identities written to a temp folder.
2. SphereNet-20 + A-Softmax training step, images/s at batch 32, float32 and
   mixed_bfloat16, with and without XLA (a plain Keras Dense head as baseline on the
   same backbone, interleaved, so the ratio is like for like).
3. Parameter count and forward FLOPs of SphereNet-20.

    python bench/bench_face.py [--images 2000] [--steps 5] [--classes 10575]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sphereface_tf import SoftmaxHead  # noqa: E402
from sphereface_tf.facedata import make_dataset, scan_identity_folders, write_tfrecords  # noqa: E402
from sphereface_tf.models import attach_head  # noqa: E402
from sphereface_tf.spherenet import forward_flops, spherenet  # noqa: E402
from tests.synthetic_faces import make_identity_folders  # noqa: E402


def bench_pipeline(n_images, batch=256):
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
        return steps * batch / (time.perf_counter() - start)


def bench_training(precision, xla, classes, steps, repeats, batch=32):
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
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--classes", type=int, default=10575)
    args = parser.parse_args()
    model = spherenet(20)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    print(f"SphereNet-20: {model.count_params():,} parameters, {forward_flops(model) / 1e9:.2f} GFLOP forward per 112×96 image")
    print(f"pipeline (TFRecords of JPEGs → decode, flip, shuffle, batch 256): {bench_pipeline(args.images):,.0f} images/s")
    print(f"training step, batch 32, C = {args.classes}: images/s (median of {args.repeats} × {args.steps} steps)")
    print(f"{'precision':>15} {'XLA':>4} {'dense head':>11} {'A-Softmax':>10} {'ratio':>6}")
    for precision in ("float32", "mixed_bfloat16"):
        for xla in (False, True):
            r = bench_training(precision, xla, args.classes, args.steps, args.repeats)
            print(f"{precision:>15} {'on' if xla else 'off':>4} {r['dense']:11.1f} {r['angular']:10.1f} {r['dense'] / r['angular']:6.2f}")


if __name__ == "__main__":
    main()
