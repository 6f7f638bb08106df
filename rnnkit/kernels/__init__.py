"""Tier 1b: whole-sequence kernels (forward and backward of all steps at once) for the cells."""
