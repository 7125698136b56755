"""`model.fit` under `tf.distribute.MultiWorkerMirroredStrategy` with Keras 3 (TensorFlow backend).

Keras 3.15's TensorFlow trainer has two bugs that stop `fit` under the
collective (multi-worker) strategy before the first step; MirroredStrategy is not
affected. `enable_multiworker_fit(model)` mends both on one model instance,
leaving TensorFlow's distributed engine to do all the work:

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
remove this module once Keras fixes them.
"""

import types

import tensorflow as tf


def enable_multiworker_fit(model):
    """Let `model.fit` run under `MultiWorkerMirroredStrategy` (a no-op for other strategies). Returns `model`.

    Call it after `compile`, inside or outside the strategy scope.
    """
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
