"""SphereNet-20 + A-Softmax training on a CPU: a PyTorch port against ours, one after the other, in one run.

The PyTorch side is written here layer for layer as clcarwin/sphereface_pytorch builds
`sphere20a` + `AngleLoss` (NCHW, every convolution with a bias, per-channel PReLU, FC5 512,
`AngleLinear` m = 4 with cos(4θ) as a polynomial and k from θ, λ = max(5, 1500 / (1 + 0.1 t)),
SGD momentum 0.9, weight decay 5e-4, eager). Ours is what `sphereface-train` builds and compiles
with its settings (`sphereface_tf.face.training.build_face_model` / `compile_face_model`).

    python bench/bench_torch.py                       # training step, batch 32, C = 1,000 and 10,575
    python bench/bench_torch.py --train               # + face/train.py end to end (28-step run − 8-step run)
    KERAS_BACKEND=jax python bench/bench_torch.py --classes 1000   # ours on JAX

Both sides train on the same random batches (float32); each figure is the median of
--repeats timed runs of --steps steps after a warm-up, torch and ours alternating, so a
change in the machine's load shows in both. Ours is clocked from the end of its first step to
the end of its last (scaled to --steps), so fit's start-up and end are not counted.
Needs `pip install -e ".[bench]"` (torch).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- the PyTorch port, rewritten
def torch_sphere20(classes):
    """(net, loss) of the port: sphere20a with AngleLinear(512, classes, m=4) and AngleLoss."""
    import torch
    from torch import nn

    class AngleLinear(nn.Module):
        def __init__(self, features, classes, m=4):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(features, classes).uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5))
            self.m = m

        def forward(self, x):
            w = self.weight.renorm(2, 1, 1e-5).mul(1e5)
            x_norm = x.pow(2).sum(1).pow(0.5)
            w_norm = w.pow(2).sum(0).pow(0.5)
            cos = (x.mm(w) / x_norm.view(-1, 1) / w_norm.view(1, -1)).clamp(-1, 1)
            cos_m = 8 * cos ** 4 - 8 * cos ** 2 + 1  # cos(4θ)
            theta = cos.detach().acos()
            k = (self.m * theta / 3.14159265).floor()
            phi = (-1.0) ** k * cos_m - 2 * k
            return cos * x_norm.view(-1, 1), phi * x_norm.view(-1, 1)

    class AngleLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.it = 0

        def forward(self, outputs, target):
            self.it += 1
            cos, phi = outputs
            lam = max(5.0, 1500.0 / (1 + 0.1 * self.it))
            index = torch.zeros_like(cos, dtype=torch.bool).scatter_(1, target.view(-1, 1), True)
            output = cos * 1.0
            output[index] -= cos[index] / (1 + lam)
            output[index] += phi[index] / (1 + lam)
            return -nn.functional.log_softmax(output, 1).gather(1, target.view(-1, 1)).mean()

    class Sphere20(nn.Module):
        # (stage width, residual units) of SphereNet-20
        STAGES = ((64, 1), (128, 2), (256, 4), (512, 1))

        def __init__(self, classes):
            super().__init__()
            self.stages = nn.ModuleList()
            channels = 3
            for width, units in self.STAGES:
                stage = nn.ModuleList([nn.Sequential(nn.Conv2d(channels, width, 3, 2, 1), nn.PReLU(width))])
                for _ in range(units):
                    stage.append(nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.PReLU(width),
                                               nn.Conv2d(width, width, 3, 1, 1), nn.PReLU(width)))
                self.stages.append(stage)
                channels = width
            self.fc5 = nn.Linear(512 * 7 * 6, 512)
            self.fc6 = AngleLinear(512, classes)

        def forward(self, x):
            for stage in self.stages:
                x = stage[0](x)
                for unit in stage[1:]:
                    x = x + unit(x)
            return self.fc6(self.fc5(x.flatten(1)))

    return Sphere20(classes), AngleLoss()


def time_torch(classes, steps, batches):
    """A callable that runs `steps` training steps of the port and returns the seconds they took."""
    import torch

    torch.manual_seed(0)
    net, loss_fn = torch_sphere20(classes)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-6, momentum=0.9, weight_decay=5e-4)
    data = [(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y.astype("int64"))) for x, y in batches]

    def run():
        start = time.perf_counter()
        for step in range(steps):
            x, y = data[step % len(data)]
            optimizer.zero_grad()
            loss = loss_fn(net((x - 127.5) / 128), y)
            loss.backward()
            optimizer.step()
        assert math.isfinite(loss.item())
        return time.perf_counter() - start

    return run


# ----------------------------------------------------------------------------- ours
def time_ours(classes, batch, steps, batches, xla="false"):
    """A callable that fits `steps` steps of sphereface-train's model (its settings, batch `batch`)."""
    import keras
    import numpy as np

    from sphereface_tf.face.training import SCHEMA, build_face_model, compile_face_model, precision_and_xla

    settings = SCHEMA.validate(dict(SCHEMA.defaults(), batch_size=batch, xla=xla, learning_rate=1e-6))
    precision, use_xla = precision_and_xla(settings)
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model, _, _ = build_face_model(settings, classes)
    compile_face_model(model, settings, xla=use_xla)
    repeated = batches * math.ceil(steps / len(batches))
    x, y = (np.concatenate([b[i] for b in repeated])[: steps * batch] for i in (0, 1))

    class StepClock(keras.callbacks.Callback):
        # from the end of the first step to the end of the last: fit's start-up and its end stay out (on TensorFlow
        # the end of a fit stalls for seconds at random, deleting a tensor handle, which would halve a short run's rate)
        def on_train_batch_end(self, step, logs=None):
            assert math.isfinite(float(logs["loss"]))  # waits for the step, so the clock reads finished work
            self.times.append(time.perf_counter())

    def run():
        clock = StepClock()
        clock.times = []
        model.fit([x, y], y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
        return (clock.times[-1] - clock.times[0]) * steps / (steps - 1)

    return run


def random_batches(classes, batch, seed, count=4):
    """`count` (images in 0–255 NHWC, labels) batches."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (batch, 112, 96, 3)).astype("float32"), rng.integers(0, classes, batch).astype("int32"))
            for _ in range(count)]


def step_rates(classes, batch, steps, repeats, ours_label, stock=False):
    batches = random_batches(classes, batch, seed=0)
    runners = {"torch": time_torch(classes, steps, batches), ours_label: time_ours(classes, batch, steps, batches)}
    if stock:  # ours without the CPU fast paths (sphereface_tf/fastpath.py), to show what they buy
        with mock.patch.dict(os.environ, {"SPHEREFACE_FAST_PATHS": "0"}):  # restores the user's setting after
            runners["stock layers"] = time_ours(classes, batch, steps, batches)
    times = {name: [] for name in runners}
    for rep in range(repeats + 1):  # the first round warms up (tracing, allocation)
        for name, run in runners.items():
            seconds = run()
            if rep:
                times[name].append(seconds)
    return {name: batch * steps / statistics.median(t) for name, t in times.items()}


# ----------------------------------------------------------------------------- face/train.py end to end
def make_cache(folder, classes, per_class=4):
    """A decoded cache of `classes` synthetic identities (face/prepare.py --format cache)."""
    images = os.path.join(folder, "images")
    cache = os.path.join(folder, "cache")
    from sphereface_tf.face.synthetic import make_identity_folders

    make_identity_folders(images, identities=classes, per_identity=per_class, formats=("png",))
    subprocess.run([sys.executable, os.path.join(ROOT, "face", "prepare.py"), "--images", images, "--out", cache,
                    "--format", "cache"], check=True, stdout=subprocess.DEVNULL)
    return cache


def train_seconds(cache, steps, out, batch, extra=()):
    command = [sys.executable, os.path.join(ROOT, "face", "train.py"), "--data", cache, "--out", out,
               "--batch-size", str(batch), "--steps", str(steps), "--checkpoint-every", str(steps), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def torch_train_rate(classes, batch, steps=20):
    run = time_torch(classes, steps, random_batches(classes, batch, seed=1))
    run()
    return batch * steps / run()


LONG, SHORT = 28, 8  # face/train.py runs whose difference is timed (start-up, saving and the first steps cancel)


def end_to_end(classes, batch, long=LONG, short=SHORT):
    """Images/s of face/train.py (its defaults but batch): (long − short) steps over the time difference."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = make_cache(tmp, classes)
        before = torch_train_rate(classes, batch)
        seconds = {}
        for steps in (short, long):
            seconds[steps] = train_seconds(cache, steps, os.path.join(tmp, f"run{steps}"), batch)
        after = torch_train_rate(classes, batch)
    ours = batch * (long - short) / (seconds[long] - seconds[short])
    return dict(torch_before=before, torch_after=after, ours=ours, seconds=seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="1000,10575", help="comma-separated class counts")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6, help="steps per timed run (at least 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (median), after one warm-up")
    parser.add_argument("--train", action="store_true", help="also time face/train.py end to end (28 − 8 steps)")
    parser.add_argument("--expect", type=float, help="exit 1 unless every ours / torch ratio is at least this")
    parser.add_argument("--stock", action="store_true", help="also time ours with the stock Keras layers (no fast paths)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error(f"--steps {args.steps}: ours is timed from the end of its first step, so it needs at least 2")

    import keras
    import torch

    ours = f"ours ({keras.config.backend()})"
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), Keras {keras.__version__} "
          f"({keras.config.backend()}), {os.cpu_count()} CPUs; SphereNet-20 + A-Softmax m = 4, float32, batch {args.batch}")
    figures, ratios = {}, []
    for classes in (int(c) for c in args.classes.split(",")):
        r = step_rates(classes, args.batch, args.steps, args.repeats, ours, stock=args.stock)
        ratio = r[ours] / r["torch"]
        ratios.append(ratio)
        figures[f"step_{classes}"] = dict(r, ratio=ratio)
        stock = f", stock layers {r['stock layers']:6.2f} ({r['stock layers'] / r['torch']:.2f}×)" if args.stock else ""
        print(f"training step, C = {classes:>6,}: torch {r['torch']:6.2f} images/s, {ours} {r[ours]:6.2f}  → {ratio:.2f}×{stock}",
              flush=True)
        if args.train:
            e = end_to_end(classes, args.batch)
            torch_mean = (e["torch_before"] + e["torch_after"]) / 2
            ratio = e["ours"] / torch_mean
            ratios.append(ratio)
            figures[f"train_{classes}"] = dict(e, ratio=ratio)
            print(f"face/train.py,  C = {classes:>6,}: torch {e['torch_before']:.2f} before / {e['torch_after']:.2f} after, "
                  f"ours {e['ours']:.2f} images/s ({LONG} − {SHORT} steps: {e['seconds'][LONG]:.1f} − {e['seconds'][SHORT]:.1f} s)  → {ratio:.2f}×",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    if args.expect and min(ratios) < args.expect:
        print(f"FAILED: ours / torch {min(ratios):.2f}× < {args.expect}×")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
