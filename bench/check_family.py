#!/usr/bin/env python
"""Check the losses that followed SphereFace in SoftmaxHead, as issue 32 asks, and train two of them on digits.

  python bench/check_family.py --out /tmp/check_family

1. For each of normface, cosface, arcface and sphereface_r: random features and the head's own
   random kernel; training and inference logits against the formulas written out here in float64
   NumPy (independent of the package and of tests/reference.py), the gradient at θ = 0 and θ = π
   (features on and opposite their class weight: finite, no arccos gradient), the config round
   trip, and the logits' dtype under mixed_float16 and mixed_bfloat16 (float32).
2. Trains the MNIST demo with --loss cosface and --loss arcface for two epochs (a fresh process each,
   split seed 7: test digits no setting was chosen on) and expects a finite loss and test accuracy above
   twice chance (0.2): two epochs show that a variant trains, not how well (docs/mnist_demo.md has 30).
Prints every figure; exits 1 when a check fails.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from sphereface_tf import SoftmaxHead  # noqa: E402

FAILED = []


def check(ok, text):
    print(("ok    " if ok else "FAIL  ") + text, flush=True)
    if not ok:
        FAILED.append(text)


def formula(variant, x, w, labels, s, margin, training):
    """s cos θ_j, the target's replaced in training, from arccos in float64."""
    cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0, keepdims=True))
    logits = s * cos
    if not training or variant == "normface":
        return logits
    rows = np.arange(len(x))
    theta = np.arccos(np.clip(cos[rows, labels], -1, 1))
    if variant == "cosface":
        target = np.cos(theta) - margin
    elif variant == "arcface":
        target = np.where(theta <= np.pi - margin, np.cos(theta + margin), np.cos(theta) - margin * np.sin(margin))
    else:
        k = np.floor(margin * theta / np.pi)
        target = (-1.0) ** k * np.cos(margin * theta) - 2 * k
    logits[rows, labels] = s * target
    return logits


def gradient(head, x, labels):
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, head([x, labels], training=True))
    dx, dw = tape.gradient(loss, [x, head.kernel])
    return np.asarray(dx), np.asarray(dw)


def check_formulas():
    rng = np.random.default_rng(32)
    for variant, s, margin in (("normface", 30.0, None), ("cosface", 64.0, 0.35), ("arcface", 64.0, 0.5),
                               ("sphereface_r", 30.0, 1.5)):
        head = SoftmaxHead(10, variant=variant, dtype="float64")
        head.build((None, 16))
        w = np.asarray(head.kernel)  # its own kernel
        x = rng.normal(size=(256, 16)) * rng.uniform(0.05, 8, (256, 1))
        labels = rng.integers(0, 10, 256)
        got = np.asarray(head([x, labels], training=True))
        worst = np.abs(got - formula(variant, x, w, labels, s, margin, True)).max()
        # sphereface_r reads θ from a cosine clipped 1e-5 inside ±1, as OpenSphere does
        check(worst < (1e-3 if variant == "sphereface_r" else 1e-9),
              f"{variant}: training logits against the float64 formula, max |diff| {worst:.2e} (s = {s:g}, margin {margin})")
        worst = np.abs(np.asarray(head(x)) - formula(variant, x, w, labels, s, margin, False)).max()
        check(worst < 1e-9, f"{variant}: inference logits s cos θ_j, max |diff| {worst:.2e}")
        axis = w[:, 0] / np.linalg.norm(w[:, 0])
        ends = np.stack([3 * axis, -3 * axis])  # θ = 0 and θ = π from class 0's weight
        dx, dw = gradient(head, ends, np.array([0, 0]))
        check(np.isfinite(dx).all() and np.isfinite(dw).all(),
              f"{variant}: gradient at θ = 0 and π finite (|dx| max {np.abs(dx).max():.3g}, |dW| max {np.abs(dw).max():.3g})")
        again = SoftmaxHead.from_config(head.get_config())
        check(again.get_config() == head.get_config() and (again.scale, again.margin) == (s, margin),
              f"{variant}: config round trip keeps scale {again.scale:g} and margin {again.margin}")
        for policy in ("mixed_float16", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            try:
                mixed = SoftmaxHead(10, variant=variant)
                out = mixed([x.astype(policy.split("_")[1]), labels], training=True)
            finally:
                keras.config.set_dtype_policy("float32")
            dtype = keras.backend.standardize_dtype(out.dtype)
            check(dtype == "float32" and np.isfinite(np.asarray(out)).all(), f"{variant}: logits under {policy} are {dtype}")


def check_demo(out):
    for loss in ("cosface", "arcface"):
        folder = os.path.join(out, loss)
        command = [sys.executable, "mnist_demo/run.py", "--loss", loss, "--dim", "3", "--epochs", "2", "--seed", "7",
                   "--out", folder, "--no-animation"]
        print("$ " + " ".join(command), flush=True)
        started = time.time()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.time() - started
        if done.returncode:
            check(False, f"demo --loss {loss}: exit {done.returncode}: {done.stderr[-400:]}")
            continue
        run = os.path.join(folder, sorted(os.listdir(folder))[-1])
        metrics = json.load(open(os.path.join(run, "metrics.json")))
        result = metrics["variants"][loss]
        accuracy, angles = result["test_accuracy"], result["angles"]["overall"]
        check(np.isfinite(accuracy) and accuracy > 0.2 and np.isfinite(result["history"]["loss"]).all(),
              f"demo --loss {loss}, 2 epochs, {metrics['train_size']} training / {metrics['test_size']} test digits: "
              f"test accuracy {accuracy:.4f}, mean intra-class angle {angles['mean_intra']:.1f}°, min inter-class "
              f"{angles['min_inter']:.1f}°, {seconds:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the demo runs")
    args = parser.parse_args()
    print(f"Keras {keras.__version__} ({keras.config.backend()})")
    check_formulas()
    check_demo(args.out)
    print("all checks passed" if not FAILED else f"{len(FAILED)} check(s) failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
