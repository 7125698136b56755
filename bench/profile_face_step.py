"""Where a SphereNet training step's time goes: a per-op profile of sphereface-train's model on this machine.

    python bench/profile_face_step.py [--classes 1000] [--batch 32] [--steps 3]

Builds and compiles the model as `sphereface-train` does (TensorFlow backend), fits once to
warm up, then fits `--steps` steps under `tf.profiler` and prints the thread time per step
by part (forward, gradient, optimizer), by op type, and by (part, layer kind, op).
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from sphereface_tf.face.training import SCHEMA, build_face_model, compile_face_model

    settings = SCHEMA.validate(dict(SCHEMA.defaults(), batch_size=args.batch, xla="false", learning_rate=1e-6))
    keras.utils.set_random_seed(0)
    model, _, _ = build_face_model(settings, args.classes)
    compile_face_model(model, settings)
    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    x = rng.integers(0, 256, (n, 112, 96, 3)).astype("float32")
    y = rng.integers(0, args.classes, n).astype("int32")
    model.fit([x, y], y, batch_size=args.batch, epochs=1, verbose=0)
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        model.fit([x, y], y, batch_size=args.batch, epochs=1, verbose=0)
        tf.profiler.experimental.stop()
        seconds = time.perf_counter() - start
        space = xplane_pb2.XSpace()
        with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as f:
            space.ParseFromString(f.read())
    by_part, by_op, by_layer = collections.Counter(), collections.Counter(), collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if "tf_Compute" not in line.name:
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name:
                    continue
                path, op = name.rsplit(":", 1)
                if op == "Process":  # the executor's span around the ops, not an op
                    continue
                s = event.duration_ps / 1e12 / args.steps
                part = "gradient" if "gradient_tape" in path else "optimizer" if "/sgd/" in path else "forward"
                by_part[part] += s
                by_op[op] += s
                kind = re.search(r"/(conv|prelu|res|fc|softmax_head|normalize)\d*", path)
                by_layer[(part, kind.group(1) if kind else "-", op)] += s
    print(f"{n / seconds:.2f} images/s while profiled ({args.steps} steps, batch {args.batch}, C = {args.classes}); "
          f"thread time per step, ms:")
    for table in (by_part, by_op, by_layer):
        for key, s in table.most_common(args.top):
            print(f"{s * 1000:9.0f}  {key if isinstance(key, str) else ' / '.join(key)}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
