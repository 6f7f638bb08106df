"""Tier 3: modules that own whole sequences."""
