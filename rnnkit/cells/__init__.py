"""Tier 1: the pure math of one time step (no state, no time loop, no nn.Module)."""
