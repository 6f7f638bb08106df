"""The options every training task shares: optimiser, schedule, stopping, checkpoints, logs.

A task's configuration is a dataclass that inherits :class:`LoopConfig` (and may change its
defaults); the command line makes one flag per field. Each field's metadata says what it
checks (``check``, ``choices``) and what ``--resume`` does with it (``resume``):

- ``"applies"``: may change when resuming (learning rate, schedule, budget, epochs,
  checkpointing, logging, device);
- ``"data"``: names the data; on resume it is recognised by content (a checksum), so the
  same data at another path is accepted and other data is refused;
- ``"invocation"``: says what this invocation does (``--out-dir``, ``--resume``,
  ``--overwrite``);
- absent: fixes the run (model shape, data options, seed, batch): refused on resume when it
  differs from the stored value.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field
from typing import Any

from .checks import FRACTION, NONNEG, NONNEG_INT, POSITIVE, POSITIVE_INT, Check, _is_int

SEED = Check(lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)")


def _opt(default: Any, help: str, **kw: Any) -> Any:
    """A configuration field: its default, its ``--help`` text and its metadata."""
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class LoopConfig:
    """Options of :class:`rnnkit.training.trainer.Trainer` (defaults: torch-rnn's)."""

    optimizer: str = _opt("adam", "optimiser", choices=("adam", "sgd"))
    learning_rate: float = _opt(2e-3, "initial learning rate", check=POSITIVE, resume="applies")
    momentum: float = _opt(
        0.0, "SGD momentum, as dpnn's (the gradient enters damped by the same factor; 0: none)",
        check=FRACTION,
    )  # fmt: skip
    lr_schedule: str = _opt(
        "step", "learning-rate schedule (plateau: decay when the validation score stops improving)",
        choices=("step", "plateau"), resume="applies",
    )  # fmt: skip
    lr_decay_factor: float = _opt(
        0.5, "multiply the learning rate by this at each decay", check=POSITIVE, resume="applies"
    )
    lr_patience: int = _opt(
        1, "plateau schedule: decay after this many epochs without a better validation score",
        check=POSITIVE_INT, resume="applies",
    )  # fmt: skip
    max_epochs: int = _opt(50, "number of epochs", check=POSITIVE_INT, resume="applies")
    early_stop: int = _opt(
        0, "stop after this many epochs without a better validation score (0: never)",
        check=NONNEG_INT, resume="applies",
    )  # fmt: skip
    time_budget: float | None = _opt(
        None, "stop (with a checkpoint) after this many seconds of training in this invocation "
        "(0: none)", check=NONNEG, resume="applies",
    )  # fmt: skip
    checkpoint_every: int = _opt(
        1000, "also write a checkpoint every this many iterations (0: only at epoch ends)",
        check=NONNEG_INT, resume="applies",
    )  # fmt: skip
    skip_nonfinite: int = _opt(
        0, "skip up to this many batches whose loss or gradient is not finite (default: stop "
        "at the first)", check=NONNEG_INT, resume="applies",
    )  # fmt: skip
    out_dir: str = _opt("runs/lm", "where the checkpoints and logs go", resume="invocation")
    resume: bool = _opt(False, "continue exactly from out_dir/checkpoint.pt", resume="invocation")
    overwrite: bool = _opt(
        False, "replace the run already in out_dir (by default it is never replaced)",
        resume="invocation",
    )  # fmt: skip
    tensorboard: str | None = _opt(
        None, "also write TensorBoard event files to this folder (needs the tensorboard "
        "package: pip install 'rnnkit[tensorboard]'; default: none)", resume="applies", path=True,
    )  # fmt: skip
    device: str = _opt("cpu", "torch device, e.g. cpu or cuda", device=True, resume="applies")
    seed: int = _opt(0, "random seed", check=SEED)
    progress: bool = _opt(True, "show progress bars", resume="applies")

    def clipping(self) -> tuple[str, float]:
        """``(mode, threshold)`` of gradient clipping: mode ``value`` or ``norm``; 0: none."""
        return "norm", 0.0


def resume_rule(f: Field) -> str:
    """What ``--resume`` does with the field ``f``: applies, data, invocation or fixed."""
    return f.metadata.get("resume", "fixed")
