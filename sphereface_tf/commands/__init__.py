"""The command-line tools: each module parses its options and makes one library call.

The scripts `mnist_demo/run.py` and `face/*.py` and the console scripts of setup.cfg
all run these `main` functions through `sphereface_tf.util.cli`.
"""
