"""Stateless helper layers that are neither cells nor sequencers."""
