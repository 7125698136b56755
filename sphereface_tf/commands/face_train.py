"""Train SphereNet + A-Softmax (or the original / modified softmax) on faces prepared by face/prepare.py.

  python face/train.py --config face/configs/sphereface20_casia.toml
  python face/train.py --config ... --precision mixed_bfloat16 --batch-size 128 --out runs/x
  python face/train.py --config ... --out runs/x --resume      # continue an interrupted or diverged run

Defaults are the paper's recipe (see the config). Every config key is also a flag.
Training is split into "epochs" of --checkpoint-every steps: at the end of each, the
full state (weights, optimizer with its step counter and learning-rate schedule,
the head's λ step counter) is saved, and λ, learning rate and images/s are logged.
A loss or weight that is no longer finite stops the run with one line naming the
step (exit status 3) before that epoch is saved: --resume, with a lower
--learning-rate say, continues from the last finite checkpoint.
Ctrl-C or SIGTERM (a scheduler's pre-emption) checkpoints after the current step and
exits with status 130 / 143; a killed run (SIGKILL, power loss) loses at most the steps
since its last checkpoint. Either way --resume continues to the same final step. A
second run on an --out that a live run is writing is refused.

Runs on the TensorFlow and the JAX backend (KERAS_BACKEND=jax: no TensorFlow needed
with a decoded cache, `face/prepare.py --format cache`). --data is a folder written by
face/prepare.py, TFRecords or cache. Several devices: TensorFlow's MirroredStrategy /
MultiWorkerMirroredStrategy (TF_CONFIG), or on JAX keras.distribution.DataParallel over
the local devices / every process's devices (KERAS_DISTRIBUTION_* variables; see
docs/face.md). --batch-size is global.
"""

import argparse
import json
import os
import signal
import sys

import keras

from sphereface_tf.face.training import SCHEMA, train
from sphereface_tf.util import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=cli.program("sphereface-train", "face/train.py"), description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--crash-after-steps", type=int, help=argparse.SUPPRESS)  # kill-and-resume tests
    parser.add_argument("--interrupt-after-steps", type=int, help=argparse.SUPPRESS)  # SIGTERM-and-resume tests
    return SCHEMA.parse(argv, parser)


def main(argv=None):
    args = parse_args(argv)
    hooks = []
    if args.crash_after_steps:
        hooks.append(after_steps(args.crash_after_steps, hard_kill))
    if args.interrupt_after_steps:
        hooks.append(after_steps(args.interrupt_after_steps, send_sigterm))
    settings = {option.name: getattr(args, option.name) for option in SCHEMA}
    state = train(settings, resume=args.resume, test_hooks=hooks)
    print(json.dumps(state))
    return 0


def entry():
    """Console script `sphereface-train`."""
    return cli.main(main)


# ----------------------------------------------------------------------------- test hooks
def after_steps(steps, action):
    """A callback that calls `action()` once, after `steps` training steps of this process."""

    class AfterSteps(keras.callbacks.Callback):
        seen = 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == steps:
                action()

    return AfterSteps()


def hard_kill():
    """Die at once, as on SIGKILL: no cleanup, no checkpoint."""
    sys.stdout.flush()
    os._exit(9)


def send_sigterm():
    """Send this process SIGTERM, as a scheduler pre-empting the job would."""
    os.kill(os.getpid(), signal.SIGTERM)
