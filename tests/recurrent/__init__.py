"""Tests of the step modules (rnnkit.recurrent)."""
