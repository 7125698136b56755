"""Plumbing shared by the tools: one error family, atomic files, model files, progress, the command-line runner."""
