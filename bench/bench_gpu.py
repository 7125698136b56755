"""SphereNet-20 training speed on an accelerator: input, model, end to end, and where the time goes.

One call measures, in one process tree and one run (so ratios are like for like):

1. input: the decoded-cache stream alone (`CacheBatches`, all cores), images/s;
   under TensorFlow also the JPEG TFRecord pipeline for comparison;
2. model only: `fit` on one device-resident batch (no input cost), A-Softmax head
   against a plain `keras.layers.Dense` head, each precision, interleaved repeats,
   median and spread, the A-Softmax/Dense time ratio per repeat pair;
3. the old way of benchmarking (`fit` on float32 NumPy arrays sliced on the host,
   as bench_face.py did): the same two heads, to show what host-side input does to
   the ratio;
4. the cost of a float32 head that is float32 (precise.FULL_FLOAT32 on vs off);
5. end to end: `face/train.py` itself on a synthetic decoded cache, images/s per
   checkpoint interval after the first (compile), against model-only;
6. JAX only: a breakdown of one step (forward, forward + backward, optimizer update,
   head alone) and XLA's FLOP count, against the device's peak.

    KERAS_BACKEND=jax python bench/bench_gpu.py --peak-tflops 989         # H100 SXM, bf16 dense
    KERAS_BACKEND=jax python bench/bench_gpu.py --quick                   # tiny sizes: a CPU smoke run

Prints a table per part and, last, one JSON line with every figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import keras
import numpy as np

from sphereface_tf import SoftmaxHead, precise
from sphereface_tf.head import attach_head
from sphereface_tf.face.spherenet import forward_flops, spherenet

RESULTS = {}


def spread(values, digits=1):
    """median, min, max of a list, rounded."""
    return dict(median=round(statistics.median(values), digits), min=round(min(values), digits),
                max=round(max(values), digits), n=len(values))


def synthetic_cache(path, n, classes, seed=0):
    """A decoded cache of `n` random faces (written directly: decoding JPEGs is not what is measured here)."""
    from sphereface_tf.face.data.cache import FACE_SHAPE, IMAGES, LABELS, write_manifest
    from sphereface_tf.face.data.sources import write_label_map

    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = np.memmap(os.path.join(path, IMAGES), np.uint8, "w+", shape=(n, *FACE_SHAPE))
    for start in range(0, n, 4096):
        images[start:start + 4096] = rng.integers(0, 256, (min(4096, n - start), *FACE_SHAPE), dtype=np.uint8)
    images.flush()
    del images
    np.save(os.path.join(path, LABELS), (np.arange(n) % classes).astype(np.int32))
    write_label_map(path, [f"id{i}" for i in range(classes)])
    write_manifest(path, n)
    return path


def bench_input(cache, batch, seconds):
    from sphereface_tf.face.data import CacheBatches

    out = {}
    for workers in sorted({1, os.cpu_count() or 1}):
        stream = iter(CacheBatches(cache, batch, workers=workers))
        next(stream)
        rates = []
        for _ in range(5):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 5:
                next(stream)
                count += 1
            rates.append(count * batch / (time.perf_counter() - start))
        out[f"cache, {workers} thread(s)"] = spread(rates)
    if keras.config.backend() == "tensorflow":
        from bench.bench_face import bench_pipeline

        out["TFRecords of JPEGs (tf.data)"] = spread([bench_pipeline(4000)[0] for _ in range(3)])
    return out


def build(head_kind, classes, depth):
    backbone = spherenet(depth)
    if head_kind == "dense":
        images = keras.Input((112, 96, 3), dtype="uint8")
        model = keras.Model(images, keras.layers.Dense(classes, dtype="float32")(backbone(images)))
    else:
        model, _ = attach_head(backbone, SoftmaxHead(classes))
    model.compile(optimizer=keras.optimizers.SGD(1e-6, momentum=0.9, weight_decay=5e-4), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def device_batch(head_kind, batch, classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (batch, 112, 96, 3), dtype=np.uint8)
    y = rng.integers(0, classes, batch).astype(np.int32)
    if keras.config.backend() == "jax":
        import jax

        x, y = jax.device_put(x), jax.device_put(y)
    return ((x, y) if head_kind == "angular" else x), y


def repeat_batch(batch):
    while True:
        yield batch


def timed_fit(model, *data, **kwargs):
    """Seconds of one `fit` epoch over `data` (a stream with steps_per_epoch=…, or arrays with batch_size=…)."""
    start = time.perf_counter()
    model.fit(*data, epochs=1, verbose=0, shuffle=False, **kwargs)
    return time.perf_counter() - start


def bench_models(precision, args, legacy=False):
    """A-Softmax vs Dense, interleaved; images/s per repeat and the time ratio per pair."""
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    models = {kind: build(kind, args.classes, args.depth) for kind in ("dense", "angular")}
    feeds = {}
    for kind in models:
        if legacy:  # float32 NumPy arrays, sliced and sent to the device by fit every step
            rng = np.random.default_rng(0)
            x = rng.integers(0, 256, (args.batch * args.steps, 112, 96, 3)).astype("float32")
            y = rng.integers(0, args.classes, args.batch * args.steps).astype("int32")
            feeds[kind] = lambda m, kind=kind, x=x, y=y: timed_fit(m, [x, y] if kind == "angular" else x, y,
                                                                     batch_size=args.batch)
        else:
            data = repeat_batch(device_batch(kind, args.batch, args.classes))
            feeds[kind] = lambda m, data=data: timed_fit(m, data, steps_per_epoch=args.steps)
    rates, ratios = {kind: [] for kind in models}, []
    for rep in range(args.repeats + 1):  # the first round compiles
        seconds = {kind: feeds[kind](models[kind]) for kind in models}
        if rep:
            for kind in models:
                rates[kind].append(args.batch * args.steps / seconds[kind])
            ratios.append(seconds["angular"] / seconds["dense"])
    keras.config.set_dtype_policy("float32")
    return {kind: spread(r) for kind, r in rates.items()} | {"ratio": spread(ratios, 3)}


def bench_head_precision(args):
    keras.config.set_dtype_policy("mixed_bfloat16")
    rates = {}
    models = {}
    for full in (True, False):
        precise.FULL_FLOAT32 = full  # read when the train step is traced
        keras.utils.set_random_seed(0)
        models[full] = build("angular", args.classes, args.depth)
        models[full].fit(repeat_batch(device_batch("angular", args.batch, args.classes)), steps_per_epoch=2, epochs=1,
                         verbose=0, shuffle=False)
    precise.FULL_FLOAT32 = True
    data = repeat_batch(device_batch("angular", args.batch, args.classes))
    ratios = []
    for _ in range(args.repeats):
        seconds = {full: timed_fit(models[full], data, steps_per_epoch=args.steps) for full in (True, False)}
        ratios.append(seconds[True] / seconds[False])
        for full, s in seconds.items():
            rates.setdefault(full, []).append(args.batch * args.steps / s)
    keras.config.set_dtype_policy("float32")
    return {"float32 head (split/HIGHEST)": spread(rates[True]), "TF32 head (plain matmul)": spread(rates[False]),
            "time ratio": spread(ratios, 4)}


def bench_end_to_end(cache, precision, args):
    """face/train.py in a subprocess; images/s of each checkpoint interval after the first."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, os.path.join(REPO, "face/train.py"), "--data", cache, "--out", out,
               "--depth", str(args.depth), "--batch-size", str(args.batch), "--precision", precision,
               "--steps", str(args.steps * (args.repeats + 1)), "--checkpoint-every", str(args.steps),
               "--lr-boundaries", "1000000", "2000000", "--log-every", str(max(args.steps // 2, 1))]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - start
        if proc.returncode:
            return {"error": (proc.stdout + proc.stderr)[-2000:]}
        final = json.load(open(os.path.join(out, "final.json")))
    rates = final["images_per_second"][1:]
    return {"face/train.py": spread(rates), "wall_seconds": round(wall, 1)}


def jax_breakdown(precision, args, flops):
    """Forward, forward+backward, optimizer update and head alone, each jitted and timed on device data."""
    import jax

    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = build("angular", args.classes, args.depth)
    (x, y), _ = device_batch("angular", args.batch, args.classes)
    model.fit(repeat_batch(((x, y), y)), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)  # builds the optimizer
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    optimizer_vars = [v.value for v in model.optimizer.variables]

    def loss(trainable, x, y):
        logits, _ = model.stateless_call(trainable, non_trainable, [x, y], training=True)
        return loss_fn(y, logits)

    forward = jax.jit(loss)
    backward = jax.jit(jax.value_and_grad(loss))
    update = jax.jit(lambda tv, ov, g: model.optimizer.stateless_apply(ov, g, tv))
    grads = backward(trainable, x, y)[1]

    head = model.get_layer(index=-1) if isinstance(model.layers[-1], SoftmaxHead) else [
        layer for layer in model.layers if isinstance(layer, SoftmaxHead)][0]
    features = jax.device_put(np.random.default_rng(0).normal(size=(args.batch, 512)).astype("float32"))

    def head_loss(kernel, features, y):
        logits, _ = head.stateless_call([kernel], [v.value for v in head.non_trainable_variables], [features, y],
                                        training=True)
        return loss_fn(y, logits)

    head_step = jax.jit(jax.value_and_grad(head_loss, argnums=(0, 1)))

    def clock(fn, *inputs):
        jax.block_until_ready(fn(*inputs))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(args.steps):
                out = fn(*inputs)
            jax.block_until_ready(out)
            times.append((time.perf_counter() - start) / args.steps * 1e3)
        return dict(spread(times), unit="ms")

    parts = {"forward": clock(forward, trainable, x, y), "forward+backward": clock(backward, trainable, x, y),
             "optimizer update": clock(update, trainable, optimizer_vars, grads),
             "head alone, fwd+bwd": clock(head_step, head.kernel.value, features, y)}
    precise.FULL_FLOAT32 = False
    plain_head = jax.jit(jax.value_and_grad(head_loss, argnums=(0, 1)))
    parts["head alone, TF32 matmul"] = clock(plain_head, head.kernel.value, features, y)
    precise.FULL_FLOAT32 = True
    try:
        cost = backward.lower(trainable, x, y).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        parts["xla_flops_fwd_bwd"] = float(cost.get("flops", 0))
        parts["xla_bytes_accessed"] = float(cost.get("bytes accessed", 0))
    except Exception as err:  # cost analysis is best-effort across XLA versions
        parts["xla_cost_analysis"] = f"unavailable: {err}"
    keras.config.set_dtype_policy("float32")
    return parts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--classes", type=int, default=10575)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (after one warm-up)")
    parser.add_argument("--images", type=int, default=50000, help="faces in the synthetic cache")
    parser.add_argument("--precisions", default="mixed_bfloat16,float32")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for the fraction reached")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: input,model,legacy,precision,e2e,breakdown")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke run")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.classes, args.depth, args.steps, args.repeats, args.images = 8, 100, 4, 2, 2, 512
    skip = set(filter(None, args.skip.split(",")))
    backend = keras.config.backend()
    devices = []
    if backend == "jax":
        import jax

        devices = [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()]
    flops = forward_flops(spherenet(args.depth))
    RESULTS["setup"] = dict(keras=keras.__version__, backend=backend, devices=devices, cpus=os.cpu_count(),
                            batch=args.batch, classes=args.classes, depth=args.depth, steps=args.steps,
                            repeats=args.repeats, forward_gflop=round(flops / 1e9, 3))
    print(json.dumps(RESULTS["setup"]), flush=True)

    def fraction(rate):
        return f" = {rate * 3 * flops / (args.peak_tflops * 1e12):.1%} of peak" if args.peak_tflops else ""

    with tempfile.TemporaryDirectory() as tmp:
        cache = synthetic_cache(os.path.join(tmp, "cache"), args.images, args.classes)
        if "input" not in skip:
            RESULTS["input"] = bench_input(cache, args.batch, seconds=5 if not args.quick else 1)
            for name, r in RESULTS["input"].items():
                print(f"input  {name:32s} {r['median']:>10,.0f} images/s  ({r['min']:,.0f}–{r['max']:,.0f})", flush=True)
        for precision in args.precisions.split(","):
            if "model" not in skip:
                r = RESULTS[f"model {precision}"] = bench_models(precision, args)
                print(f"model  {precision:15s} Dense {r['dense']['median']:>9,.0f}  A-Softmax {r['angular']['median']:>9,.0f}"
                      f" images/s{fraction(r['angular']['median'])}; A-Softmax/Dense time {r['ratio']['median']:.3f}"
                      f" ({r['ratio']['min']:.3f}–{r['ratio']['max']:.3f})", flush=True)
            if "legacy" not in skip:
                r = RESULTS[f"legacy numpy input {precision}"] = bench_models(precision, args, legacy=True)
                print(f"legacy {precision:15s} Dense {r['dense']['median']:>9,.0f}  A-Softmax {r['angular']['median']:>9,.0f}"
                      f" images/s; A-Softmax/Dense time {r['ratio']['median']:.3f} ({r['ratio']['min']:.3f}–{r['ratio']['max']:.3f})",
                      flush=True)
            if "e2e" not in skip:
                r = RESULTS[f"end to end {precision}"] = bench_end_to_end(cache, precision, args)
                if "error" in r:
                    print(f"e2e    {precision}: FAILED\n{r['error']}", flush=True)
                else:
                    model_rate = RESULTS.get(f"model {precision}", {}).get("angular", {}).get("median")
                    versus = f" = {r['face/train.py']['median'] / model_rate:.1%} of model-only" if model_rate else ""
                    print(f"e2e    {precision:15s} face/train.py {r['face/train.py']['median']:>9,.0f} images/s"
                          f" ({r['face/train.py']['min']:,.0f}–{r['face/train.py']['max']:,.0f}){versus}", flush=True)
        if "precision" not in skip:
            r = RESULTS["head precision, mixed_bfloat16"] = bench_head_precision(args)
            print(f"head   float32 head / TF32 head step time {r['time ratio']['median']:.4f}"
                  f" ({r['time ratio']['min']:.4f}–{r['time ratio']['max']:.4f})", flush=True)
        if "breakdown" not in skip and backend == "jax":
            for precision in args.precisions.split(","):
                r = RESULTS[f"breakdown {precision}"] = jax_breakdown(precision, args, flops)
                print(f"parts  {precision}: " + ", ".join(f"{k} {v['median']:.2f} ms" for k, v in r.items() if isinstance(v, dict)),
                      flush=True)
                if isinstance(r.get("xla_flops_fwd_bwd"), float):
                    print(f"       XLA: {r['xla_flops_fwd_bwd'] / 1e12:.3f} TFLOP fwd+bwd per step, "
                          f"{r['xla_bytes_accessed'] / 1e9:.2f} GB accessed", flush=True)
    print("RESULTS " + json.dumps(RESULTS), flush=True)


if __name__ == "__main__":
    main()
