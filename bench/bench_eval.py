"""Verification speed on this machine: embedding images/s and LFW-protocol pairs/s.

1. Embedding a batch of 112×96 faces with SphereNet-20: a plain Keras
   `backbone.predict` (baseline, one pass) vs our paper features (`embed`: image
   and mirror image, two passes) vs the exported serving model (uint8 in, both
   passes in one graph) vs its SavedModel `serve` signature. Interleaved; medians.
2. The whole protocol (face/evaluate.py's path: read images, embed, cosine, 10-fold
   accuracy, ROC) on a synthetic LFW-layout set: pairs/s end to end.

    python bench/bench_eval.py [--images 128] [--repeats 3] [--depth 20]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from sphereface_tf.face.embed import embed
from sphereface_tf.face.export import export_embedding, serving_model
from sphereface_tf.face.protocol import evaluate_model
from sphereface_tf.face.spherenet import spherenet
from sphereface_tf.face.synthetic import make_lfw


def bench_embedding(depth, n_images, repeats, tmp):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    backbone = spherenet(depth)
    images = np.random.default_rng(0).integers(0, 256, (n_images, 112, 96, 3)).astype(np.uint8)
    floats = images.astype(np.float32)
    server = serving_model(backbone)
    _, saved = export_embedding(backbone, os.path.join(tmp, "export"))
    loaded = tf.saved_model.load(saved)  # keep a reference: its functions use the object's variables
    paths = {
        "backbone.predict (plain Keras, no flip)": lambda: backbone.predict(floats, batch_size=64, verbose=0),
        "embed (image + mirror)": lambda: embed(backbone, floats, batch_size=64),
        "serving model .predict (uint8)": lambda: server.predict(images, batch_size=64, verbose=0),
        "SavedModel serve (uint8)": lambda: np.concatenate([loaded.serve(tf.constant(images[i:i + 64])).numpy() for i in range(0, n_images, 64)]),
    }
    times = {name: [] for name in paths}
    for rep in range(repeats + 1):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            if rep:
                times[name].append(time.perf_counter() - start)
    return {name: n_images / statistics.median(t) for name, t in times.items()}


def bench_protocol(depth, tmp):
    keras.utils.set_random_seed(0)
    model = os.path.join(tmp, "model.keras")
    spherenet(depth).save(model)
    pairs = make_lfw(os.path.join(tmp, "lfw"), people=60, per_person=4, folds=10, per_class=30)
    return evaluate_model(model, pairs, os.path.join(tmp, "lfw"), out=os.path.join(tmp, "eval"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args()
    print(f"Keras {keras.__version__} ({keras.config.backend()}), {os.cpu_count()} CPUs, SphereNet-{args.depth}")
    with tempfile.TemporaryDirectory() as tmp:
        rates = bench_embedding(args.depth, args.images, args.repeats, tmp)
        base = rates["backbone.predict (plain Keras, no flip)"]
        print(f"embedding {args.images} faces (median of {args.repeats}):")
        for name, rate in rates.items():
            print(f"  {name:<42} {rate:7.1f} images/s   time × {base / rate:.2f} of plain predict")
        report = bench_protocol(args.depth, tmp)
    print(f"the LFW protocol end to end (face/evaluate.py's call): {report['pairs']} pairs over {report['images']} images in {report['seconds']} s "
          f"→ {report['pairs_per_second']} pairs/s ({report['images'] / report['seconds']:.1f} images/s)")


if __name__ == "__main__":
    main()
