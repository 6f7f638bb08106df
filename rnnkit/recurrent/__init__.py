"""Tier 2: step modules, which own time, state and ``rho``."""
