#!/usr/bin/env bash
# One call on a lent GPU machine (JAX, no Keras/TensorFlow there): install the carried wheels, unpack the
# aligned LFW faces, run the tune-then-report protocol (face/benchmark.py --tune-folds) under a time limit, and pack what it wrote into $OUT.
#
#   here:   bash tools/device_wheels.sh 3.12 .whl   (or keras, namex, optree alone: the device has the rest)
#           (cd data/lfw && zip -q -r -0 ../lfw_aligned.zip aligned pairs.txt)   # aligned/ and pairs.txt inside
#   device: LIMIT=540 bash tools/lfw_device.sh --config face/configs/sphereface20_lfw.toml --tune-folds 6-10 --folds 1-5 --candidates @tools/lfw_candidates.json
#           (carry .whl, the zip and, to continue a cut-off call, runs/lfw; ZIP=data/other.zip names another zip)
set -u
LIMIT=${LIMIT:-540}
REPO=$PWD
OUT=${OUT:-$REPO/out}
ZIP=${ZIP:-data/lfw_aligned.zip}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$REPO KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=1
mkdir -p /tmp/lfw && python3 -m zipfile -e "$REPO/$ZIP" /tmp/lfw || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" | tee -a "$OUT/device.txt"
timeout "$LIMIT" python3 face/benchmark.py --images /tmp/lfw/aligned --pairs /tmp/lfw/pairs.txt --out runs/lfw "$@" \
    > "$OUT/log.txt" 2>&1
echo "exit $?" >> "$OUT/log.txt"
tail -40 "$OUT/log.txt"
tar czf "$OUT/lfw.tgz" runs/lfw
