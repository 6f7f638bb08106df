"""The run's history and the logs people read with their own tools.

``history`` (stored in every checkpoint, so it survives a resume) holds one record per
iteration (``train``), per epoch (``valid``) and per skipped non-finite batch
(``skipped``). From it, beside the checkpoint, ``train.csv`` and ``epochs.csv`` are
rewritten at every checkpoint and ``log.json`` at the end; with ``--tensorboard DIR`` the
same scalars go to TensorBoard event files as they happen (a resumed run first drops the
events written after its checkpoint, so a killed run leaves no duplicate curve).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from .checkpoint import write_text_atomic


def _plain(value):
    """JSON has no NaN or infinity: non-finite numbers are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _csv(records: list[dict]) -> str:
    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(k for k, v in r.items() if not isinstance(v, (dict, list))))
    out = io.StringIO()
    writer = csv.DictWriter(out, list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    return out.getvalue()


def tensorboard_writer(folder: str, purge_step: int | None) -> Any:  # a SummaryWriter
    """A ``SummaryWriter`` (needs the ``tensorboard`` package; checked before the run starts)."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=folder, purge_step=purge_step)


class RunLog:
    """History records, CSV files and TensorBoard events of one run (first process only)."""

    def __init__(self, out_dir: str | Path, history: dict | None = None, *,
                 tensorboard: str | None = None, enabled: bool = True) -> None:  # fmt: skip
        self.out_dir = Path(out_dir)
        self.history = history or {"train": [], "valid": [], "skipped": []}
        for key in ("train", "valid", "skipped"):
            self.history.setdefault(key, [])
        self.enabled = enabled
        self.tb = None
        if tensorboard and enabled:
            done = self.history["train"][-1]["iteration"] if self.history["train"] else 0
            self.tb = tensorboard_writer(tensorboard, done + 1 if done else None)

    def _scalars(self, prefix: str, record: dict, step: int) -> None:
        if self.tb is None:
            return
        for key, value in record.items():
            if key not in ("iteration", "epoch") and isinstance(value, (int, float)):
                self.tb.add_scalar(f"{prefix}/{key}" if key != "lr" else "lr", value, step)

    def iteration(self, record: dict) -> None:
        self.history["train"].append(record)
        self._scalars("train", record, record["iteration"])

    def epoch(self, record: dict) -> None:
        self.history["valid"].append(record)
        self._scalars("epoch", {k: v for k, v in record.items() if k != "lr"}, record["iteration"])

    def skipped(self, record: dict) -> None:
        self.history["skipped"].append(record)

    def write_csv(self) -> list[Path]:
        """``train.csv`` (one row per iteration) and ``epochs.csv`` (one per epoch)."""
        if not self.enabled:
            return []
        if self.tb is not None:
            self.tb.flush()
        return [write_text_atomic(_csv(self.history[key]), self.out_dir / name)
                for key, name in (("train", "train.csv"), ("valid", "epochs.csv"))]  # fmt: skip

    def write_json(self, **sections: Any) -> Path | None:
        """``log.json``: the given sections (configuration, model, summary) and the history."""
        if not self.enabled:
            return None
        body = {**sections, "history": self.history}
        text = json.dumps(body, indent=1, default=str)
        if "NaN" in text or "Infinity" in text:  # strict JSON for every reader
            text = json.dumps(_deep_plain(body), indent=1, default=str)
        return write_text_atomic(text, self.out_dir / "log.json")

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None


def _deep_plain(obj):
    if isinstance(obj, dict):
        return {k: _deep_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_deep_plain(v) for v in obj]
    return _plain(obj)
