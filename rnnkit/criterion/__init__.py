"""Criteria over sequences."""
