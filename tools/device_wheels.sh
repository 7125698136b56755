#!/usr/bin/env bash
# Wheels to carry to an accelerator that has JAX but neither Keras nor TensorFlow, for
# bench/bench_gpu.py and face/train.py on a decoded cache (KERAS_BACKEND=jax).
#
#   bash tools/device_wheels.sh [PYTHON_VERSION] [OUT]      # e.g. 3.11 wheels/ (the device's Python)
#   # on the device:
#   pip install --no-index --find-links wheels/ keras tensorboard protobuf
#   KERAS_BACKEND=jax python bench/bench_gpu.py --peak-tflops 989
#
# Keras needs namex, optree, h5py, absl-py, rich (+ markdown-it-py, mdurl, pygments), packaging
# and ml-dtypes (JAX brings it); tensorboard + protobuf are optional (TensorBoard scalars).
# Nothing else of the training path is imported: Keras' optional imports (pandas, scikit-learn,
# matplotlib, …) are skipped when absent.
set -euo pipefail
version=${1:-3.11}
out=${2:-wheels}
mkdir -p "$out"
pip download --quiet --dest "$out" --only-binary=:all: --python-version "$version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    keras namex optree h5py absl-py rich markdown-it-py mdurl pygments packaging ml-dtypes protobuf typing-extensions
pip download --quiet --dest "$out" --no-deps --only-binary=:all: --python-version "$version" tensorboard
ls "$out"
