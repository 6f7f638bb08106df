"""Independent reference implementations (plain torch, never rnnkit)."""
