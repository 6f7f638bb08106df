"""Reusable training machinery (no argv): checkpoints, the language-model loop, plots."""
