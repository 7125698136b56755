"""Seeing embeddings: feature plots on the circle and the sphere, training curves, angle statistics, the TensorBoard projector."""
