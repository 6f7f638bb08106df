"""What a run says when it ends: its summary and the lines that tell the user why it stopped."""

from __future__ import annotations

import math
from pathlib import Path


def summary_of(state: dict, stop: str | None, this_run: float, path: Path) -> dict:
    """The summary every task's run returns (tasks add their final metrics)."""
    return {
        "iterations": state["iteration"], "epochs_completed": state["epoch"] - 1,
        "elapsed_s": state["elapsed"], "this_run_s": this_run, "stopped_by": stop,
        "checkpoint": str(path),
        "best_checkpoint": str(path.with_name("best.pt")) if state["best_epoch"] else None,
        "best_epoch": state["best_epoch"], "best": state["best"],
        "skipped_nonfinite": state["skipped_nonfinite"],
    }  # fmt: skip


def stop_line(
    stop: str | None, this_run: float, path: Path, monitor: str, early_stop: int
) -> str | None:
    """Why training stopped before ``--max-epochs`` (``None`` when it did not)."""
    if stop in ("SIGINT", "SIGTERM"):
        return f"interrupted ({stop}): checkpoint saved to {path}; continue with --resume"
    if stop == "time budget":
        return f"stopped after {this_run:.0f}s (time budget); checkpoint saved to {path}"
    if stop == "early stop":
        return (f"stopped: no better {monitor} for {early_stop} epochs (--early-stop "
                f"{early_stop}); checkpoint saved to {path}")  # fmt: skip
    return None


def nonfinite_line(command: str, iteration: int, bad: tuple[float, float] | None, path: Path,
                   saved_at: int | None, skip: int) -> str:  # fmt: skip
    """One line: where the loss or gradient stopped being finite, and what was kept."""
    if bad is None:
        what = "a weight is not finite after the update"
    elif not math.isfinite(bad[0]):
        what = f"the loss is {bad[0]:.4g}"
    else:
        what = f"the gradient norm is {bad[1]:.4g}"
    if saved_at is None:
        kept = ("no checkpoint had been written yet; start again with a lower --learning-rate "
                "or --grad-clip (and --overwrite)")  # fmt: skip
    else:
        kept = (f"the last good checkpoint, {path} (iteration {saved_at}), is kept; continue "
                "from it with --resume and a lower --learning-rate or --grad-clip")  # fmt: skip
    return (
        f"{command}: stopped at iteration {iteration}: {what} (--skip-nonfinite {skip}); "
        f"nothing after it was saved: {kept}"
    )


def wrote_line(paths: list) -> str:
    *first, last = [str(p) for p in paths]
    return f"wrote {', '.join(first)} and {last}" if first else f"wrote {last}"
