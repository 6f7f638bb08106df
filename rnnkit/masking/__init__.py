"""Variable-length sequences: one zero-mask mechanism shared by everything that masks."""
