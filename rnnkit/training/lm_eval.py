"""Scoring a language model on a token split: loss, perplexity, bits per character, <unk>."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data import BPTTBatcher
from ..models.language_model import LanguageModel
from . import progress as _progress
from .checks import ConfigError

EVAL_LOGITS = 1 << 25  # floats of logits per evaluation chunk (128 MB): caps T for a large V


@torch.no_grad()
def evaluate_split(
    model: LanguageModel, ids: np.ndarray, batch_size: int, seq_length: int, device: str,
    unk_index: int | None = None, progress: bool = False, desc: str = "evaluating",
) -> dict:  # fmt: skip
    """Summed cross-entropy over ``ids`` (state carried across chunks, from zero state).

    Returns ``{"loss": mean nats/token, "targets": n}``, and with ``unk_index`` also
    ``"unk_targets"`` and ``"loss_excluding_unk"`` (the mean over the other targets).
    ``progress``: a bar over the chunks.
    """
    was_training = model.training
    model.eval()
    model.forget()
    if len(ids) < 2:
        raise ConfigError(f"cannot evaluate on {len(ids)} tokens: at least 2 are needed")
    # With the state carried from chunk to chunk the loss does not depend on the chunk
    # length, so a split too short for the training shape is read in shorter chunks, and a
    # large vocabulary in chunks whose (T, N, V) logits stay within EVAL_LOGITS.
    streams = max(1, min(batch_size, (len(ids) - 1) // 2))
    seq_length = max(
        1, min(seq_length, len(ids) // streams - 1, EVAL_LOGITS // (streams * model.vocab_size))
    )
    total = unk_total = 0.0
    count = unk_count = 0
    batcher = BPTTBatcher(ids, streams, seq_length)
    for inputs, targets in _progress.iterate(progress, batcher, len(batcher), desc):
        targets = targets.to(device).flatten()  # (T * N,)
        losses = F.cross_entropy(model(inputs.to(device)).flatten(0, 1), targets, reduction="none")
        total += losses.sum().item()
        count += targets.numel()
        if unk_index is not None:
            is_unk = targets == unk_index
            unk_total += losses[is_unk].sum().item()
            unk_count += int(is_unk.sum())
    model.train(was_training)
    out: dict[str, Any] = {"loss": total / count, "targets": count}
    if unk_index is not None:
        rest = count - unk_count
        out["unk_targets"] = unk_count
        out["loss_excluding_unk"] = (total - unk_total) / rest if rest else None
    return out


def evaluate_loss(
    model: LanguageModel, ids: np.ndarray, batch_size: int, seq_length: int, device: str
) -> float:
    """Mean cross-entropy (nats/token) over ``ids``, state carried across chunks, from zero state."""
    return evaluate_split(model, ids, batch_size, seq_length, device)["loss"]


def _exp(loss: float) -> float:
    return math.exp(min(loss, 50.0))  # NaN stays NaN


def metrics(result: float | dict, level: str) -> dict:
    """Loss, perplexity, bits per character; with ``<unk>`` counts, the same without them."""
    result = {"loss": result} if isinstance(result, (int, float)) else result
    loss = result["loss"]
    out = {"loss": loss, "perplexity": _exp(loss)}
    if level == "char":
        out["bits_per_char"] = loss / math.log(2)
    if "unk_targets" in result:
        rest = result["loss_excluding_unk"]
        out["unk_fraction"] = result["unk_targets"] / result["targets"]
        out["loss_excluding_unk"] = rest
        out["perplexity_excluding_unk"] = _exp(rest) if rest is not None else None
    return out


def describe(m: dict) -> str:
    extra = f", {m['bits_per_char']:.3f} bits/char" if "bits_per_char" in m else ""
    if m.get("unk_fraction") and m.get("perplexity_excluding_unk") is not None:
        extra += (
            f"; {100 * m['unk_fraction']:.2f}% of targets are <unk>, perplexity without them "
            f"{m['perplexity_excluding_unk']:.2f}"
        )
    return f"loss {m['loss']:.4f}, perplexity {m['perplexity']:.2f}{extra}"
