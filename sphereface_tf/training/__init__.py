"""Long training runs: callbacks (timing, checkpoints, interruption, non-finite stop, TensorBoard scalars), data-parallel
set-up on TensorFlow and JAX, and typed config schemas for the command line and TOML files."""
