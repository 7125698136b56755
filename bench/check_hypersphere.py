#!/usr/bin/env python
"""Check and time sphereface-hypersphere and the training animation, as issue 30 asks.

  python bench/check_hypersphere.py --images data/lfw/six_aligned --out /tmp/check

1. Runs `sphereface-hypersphere --images DIR --margins 1 4` with every other default (a fresh
   process, timed), recomputes every angle of table.json from features/*.npz by a plain loop over
   pairs, and expects A-Softmax m = 4 to tighten the training identities against m = 1 (a smaller
   mean intra-class angle; the largest is printed too, but one face decides it) and the two margins
   to finish within 7.5 minutes.
2. Runs the MNIST demo for 3 epochs (a fresh process, timed) and expects animation.gif with
   >= 3 frames and an animation.html that loads no script from the network.
Prints the figures; exits 1 when a check fails.
"""

import argparse
import glob
import itertools
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from PIL import Image


def loop_angles(features, labels):
    f = features / np.linalg.norm(features, axis=1, keepdims=True)
    intra, inter = [], []
    for a, b in itertools.combinations(range(len(f)), 2):
        (intra if labels[a] == labels[b] else inter).append(np.degrees(np.arccos(np.clip(float(f[a] @ f[b]), -1, 1))))
    return dict(max_intra_deg=max(intra), min_inter_deg=min(inter), mean_intra_deg=np.mean(intra), mean_inter_deg=np.mean(inter))


def timed(command):
    print("$ " + " ".join(command), flush=True)
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.time() - started
    if done.returncode:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", required=True, help="an identity-folder tree of aligned faces (e.g. LFW's six identities)")
    parser.add_argument("--out", required=True, help="a new folder for the outputs")
    args = parser.parse_args()
    failures = []
    out = os.path.join(args.out, "hypersphere")
    stdout, seconds = timed([os.path.join(os.path.dirname(sys.executable), "sphereface-hypersphere"), "--images", args.images,
                             "--margins", "1", "4", "--out", out])
    print("\n".join(line for line in stdout.splitlines() if "steps (" not in line)[-2500:])
    table = json.load(open(os.path.join(out, "table.json")))["rows"]
    worst = 0.0
    for row in table:
        d = np.load(os.path.join(out, "features", row["run"] + ".npz"))
        for prefix, mask in (("", d["heldout"]), ("train_", ~d["heldout"])):
            for key, value in loop_angles(d["features"][mask].astype(np.float64), d["labels"][mask]).items():
                worst = max(worst, abs(row[prefix + key] - value))
    print(f"\nevery angle of table.json recomputed from features/*.npz: largest difference {worst:.2e}°")
    if worst > 1e-2:
        failures.append(f"table.json differs from the features by {worst}°")
    m1, m4 = (next(r for r in table if r["m"] == m) for m in (1, 4))
    print(f"training faces, largest intra-class angle: m=1 {m1['train_max_intra_deg']:.1f}°, m=4 {m4['train_max_intra_deg']:.1f}°; "
          f"mean intra-class: m=1 {m1['train_mean_intra_deg']:.1f}°, m=4 {m4['train_mean_intra_deg']:.1f}°")
    # tighter = a smaller mean angle between two faces of one identity. The largest such angle is printed too, but it is
    # one face's (docs/hypersphere.md: over seeds it moves by more than between margins), so it decides nothing here.
    if not m4["train_mean_intra_deg"] < m1["train_mean_intra_deg"]:
        failures.append("m = 4 does not tighten the training identities against m = 1 (mean intra-class angle)")
    print(f"sphereface-hypersphere, two margins: {seconds:.0f} s (limit 450 s)")
    if seconds > 450:
        failures.append(f"two margins took {seconds:.0f} s > 450 s")

    demo_out = os.path.join(args.out, "demo")
    _, seconds = timed([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mnist_demo", "run.py"),
                        "--epochs", "3", "--out", demo_out])
    (run,) = glob.glob(os.path.join(demo_out, "*"))
    with Image.open(os.path.join(run, "animation.gif")) as gif:
        frames = gif.n_frames
    page = open(os.path.join(run, "animation.html")).read()
    offline = not re.search(r"<script[^>]+src=", page)
    print(f"MNIST demo, 3 epochs: {seconds:.0f} s; animation.gif {frames} frames; animation.html offline: {offline}")
    if frames < 3 or not offline:
        failures.append("the demo's animation is missing frames or loads a script")
    print("\n" + ("FAILED: " + "; ".join(failures) if failures else "all checks passed"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
