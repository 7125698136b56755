"""The package version (one place: setup.cfg, metrics.json and __init__ read it)."""

__version__ = "0.3.0"
