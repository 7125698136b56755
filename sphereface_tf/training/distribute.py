"""Several devices and machines for `model.fit`, on TensorFlow and on JAX.

`data_parallel(name)` sets up data-parallel training the backend's own way:

* TensorFlow: `tf.distribute` — "mirrored" is MirroredStrategy over the local GPUs,
  "multiworker" MultiWorkerMirroredStrategy over the cluster in `TF_CONFIG`;
* JAX: `keras.distribution.DataParallel` — "mirrored" over the local devices,
  "multiworker" over every device of every process after
  `keras.distribution.initialize()` (which reads `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
  `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`); each process
  then feeds its own slice of the global batch (`Plan.shard`).

"auto" picks multiworker when the cluster variables are set, mirrored with more than
one local accelerator, else a single device.

`enable_multiworker_fit` mends `model.fit` under TensorFlow's
MultiWorkerMirroredStrategy with Keras 3 (TensorFlow backend). Keras 3.15's
TensorFlow trainer has two bugs that stop `fit` under the collective
(multi-worker) strategy before the first step; MirroredStrategy is not affected.
It mends both on one model instance, leaving TensorFlow's distributed engine to do
all the work:

1. `_maybe_symbolic_build` asks the strategy to reduce ("MEAN") the whole nested
   input batch, which `CollectiveAllReduceStrategy` cannot do for a tuple. Here
   the model is built from the first local replica's batch instead (only shapes
   and dtypes are used).
2. The distributed train step reduces the scalar logs with
   `strategy.reduce("MEAN", v, axis=0)`, which fails on 0-d tensors ("Invalid
   reduction dimension 0 for input with 0 dimensions"). Here `train_step`
   returns each log as a 1-element vector, which that reduction turns back into
   the cross-replica mean scalar.

Both are checked by a two-process test on localhost (tests/test_face_train.py);
remove that part once Keras fixes them.
"""

import contextlib
import dataclasses
import os
import types

import keras

JAX_CLUSTER_VARIABLES = ("KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_JOB_ADDRESSES")


def local_accelerators():
    """The GPUs (or other accelerators) this process sees, for the current backend."""
    backend = keras.config.backend()
    if backend == "jax":
        import jax  # deferred: JAX is optional (TensorFlow backend)

        return [d for d in jax.local_devices() if d.platform != "cpu"]
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

        return tf.config.list_physical_devices("GPU")
    return []


def _compute_capability(device):
    if keras.config.backend() == "jax":
        value = getattr(device, "compute_capability", None)
        return float(value) if value else None
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    value = tf.config.experimental.get_device_details(device).get("compute_capability")
    return float(f"{value[0]}.{value[1]}") if value else None


def auto_precision():
    """float32 on CPUs; on GPUs mixed_bfloat16 where tensor cores have bfloat16 (NVIDIA compute
    capability ≥ 8.0: no loss scaling needed), else mixed_float16."""
    devices = local_accelerators()
    if not devices:
        return "float32"
    capability = _compute_capability(devices[0])
    return "mixed_bfloat16" if capability is None or capability >= 8.0 else "mixed_float16"


@dataclasses.dataclass
class Plan:
    """How `fit` runs: `scope()` to build the model in, replicas in sync, this process's batch slice."""

    name: str
    replicas: int
    shard: tuple = (0, 1)
    strategy: object = None  # TensorFlow only

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def data_parallel(name="auto"):
    """Set up data-parallel training ("auto", "none", "mirrored" or "multiworker"); returns a `Plan`."""
    backend = keras.config.backend()
    if name == "auto":  # a cluster is checked first: multi-process JAX must start before any device query
        clustered = os.environ.get("TF_CONFIG") if backend == "tensorflow" else any(map(os.environ.get, JAX_CLUSTER_VARIABLES))
        name = "multiworker" if clustered and backend in ("tensorflow", "jax") else (
            "mirrored" if len(local_accelerators()) > 1 else "none")
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

        strategy = {"multiworker": tf.distribute.MultiWorkerMirroredStrategy,
                    "mirrored": tf.distribute.MirroredStrategy}.get(name, tf.distribute.get_strategy)()
        return Plan(name, strategy.num_replicas_in_sync, strategy=strategy)
    if backend != "jax":
        if name not in ("auto", "none"):
            raise ValueError(f"distribution {name!r} needs the TensorFlow or JAX backend, not {backend}")
        return Plan("none", 1)
    import jax  # deferred: JAX is optional (TensorFlow backend)

    if name == "multiworker":
        keras.distribution.initialize()
    if name == "none":
        return Plan(name, 1)
    devices = jax.devices() if name == "multiworker" else jax.local_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    distribution.auto_shard_dataset = False  # each process's input already yields its own slice (Plan.shard)
    keras.distribution.set_distribution(distribution)
    return Plan(name, len(devices), shard=(jax.process_index(), jax.process_count()))


def enable_multiworker_fit(model):
    """Let `model.fit` run under `MultiWorkerMirroredStrategy` (a no-op for other strategies). Returns `model`.

    Call it after `compile`, inside or outside the strategy scope.
    """
    if keras.config.backend() != "tensorflow":
        return model
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model
    train_step = model.train_step

    def first_local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(first_local, next(it))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def vector_logs_train_step(self, data):
        logs = train_step(data)
        return {name: tf.reshape(value, [1]) if tf.is_tensor(value) and value.shape.rank == 0 else value
                for name, value in logs.items()}

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)
    if strategy.extended._in_multi_worker_mode():  # the test Keras uses to take the failing reduction path
        model.train_step = types.MethodType(vector_logs_train_step, model)
    return model
