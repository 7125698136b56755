"""Moved to `sphereface_tf.head` (LambdaLogger, find_heads) and `sphereface_tf.training.callbacks`; this name keeps old imports working."""

from sphereface_tf.head import LambdaLogger, find_heads  # noqa: F401
from sphereface_tf.training.callbacks import (  # noqa: F401
    BACKUP_METADATA,
    BACKUP_WEIGHTS,
    CheckpointOnInterrupt,
    EpochTimer,
    StopAtStep,
    TensorBoardScalars,
    backup_and_restore,
    checkpointed_step,
    optimizer_step,
)
