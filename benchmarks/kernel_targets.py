"""Issue 15's targets for ``benchmarks.sequence_kernels``, and the FLOP count of MuFuRu."""

from __future__ import annotations

# (kind, model, H) -> the lowest acceptable ratio (fused PyTorch time / ours)
TARGETS: dict[tuple[str, str, int], float] = {}
for model, targets in {
    "Sequencer(FastLSTM)": (0.6, 1.0, 1.0),
    "Sequencer(LSTM) peepholes": (0.5, 0.95, 1.0),
    "Sequencer(GRU)": (1.0, 1.1, 1.1),
    "Sequencer(GRU(p=0.25))": (0.4, 0.7, 0.7),
    "Sequencer(FastLSTM(batchnorm=True))": (0.4, 0.7, 0.7),
    "Sequencer(MuFuRu)": (0.3, 0.3, 0.3),
    "Sequencer(Recurrence(user cell))": (0.3, 0.75, 0.9),
}.items():
    for H, target in zip((128, 512, 1024), targets):
        TARGETS[("train", model, H)] = target
for H in (512, 1024):
    TARGETS[("inference", "Sequencer(FastLSTM) no_grad", H)] = 0.8
TARGETS[("masked", "SeqLSTM(maskzero=True)", 512)] = 1.5

MEMORY_TARGET = 2.5  # whole-sequence evaluation: peak growth / output size
FIRST_CALL_TARGET_S = 5.0


def mufuru_products(D: int, H: int, n_ops: int) -> int:
    """Matmul FLOPs of one MuFuRu step for one row: W_xr x, W_sr s, W_v [x, r s], W_p [x, s]."""
    return 2 * (H * D + H * H + H * (D + H) + n_ops * H * (D + H))


def verdict(row: dict) -> str:
    """``yes``/``no`` against the row's target; empty when the issue sets none."""
    if row["kind"] == "memory":
        return "yes" if row["ratio"] <= MEMORY_TARGET and not row["graph"] else "no"
    if row["kind"] == "first call":
        no_recompile = row["new_length_s"] < 2 * row["warm_s"]
        return "yes" if row["first_s"] < FIRST_CALL_TARGET_S and no_recompile else "no"
    target = TARGETS.get((row["kind"], row["model"], row["H"]))
    return "" if target is None else ("yes" if row["ratio"] >= target else "no")
