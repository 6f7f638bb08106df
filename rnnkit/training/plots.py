"""The plots written at the end of training: losses (language models), errors and glimpses (RAM)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from ..models.recurrent_attention_model import RecurrentAttentionModel


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or ``None`` when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_loss_curves(
    history: dict, path: str | Path, title: str = "", train_label: str = "train"
) -> Path | None:
    """Training loss per iteration and validation loss per epoch, as a PNG. ``None`` without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    if history.get("train"):  # records {"iteration", "loss", …} (or older (iteration, loss) pairs)
        rows = [(r["iteration"], r["loss"]) if isinstance(r, dict) else r for r in history["train"]]
        it, loss = zip(*rows)
        ax.plot(it, loss, lw=0.8, alpha=0.7, label=f"{train_label} (per iteration)")
    if history.get("valid"):
        it, loss = zip(
            *[(v["iteration"], v.get("valid_loss", v.get("loss"))) for v in history["valid"]]
        )
        ax.plot(it, loss, "o-", label="validation cross-entropy (per epoch)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title, fontsize=9, wrap=True)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def plot_error_curves(history: list[dict], path: str | Path, title: str = "") -> Path | None:
    """Training and validation classification error per epoch (log scale), as a PNG.

    ``history`` holds one ``{"epoch", "train_error", "valid_error"}`` dict per epoch (the RAM
    trainer's ``log.json``). ``None`` without matplotlib or without a complete epoch.
    """
    plt = _pyplot()
    if plt is None:
        return None
    if not history:
        return None
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [100 * h["train_error"] for h in history], lw=0.8,
            label="train (sampled locations)")  # fmt: skip
    ax.plot(epochs, [100 * h["valid_error"] for h in history], lw=0.8,
            label="validation (mean locations)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("classification error (%)")
    ax.set_title(title, fontsize=9, wrap=True)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(plt, fig, path)


@torch.no_grad()
def plot_glimpses(
    model: RecurrentAttentionModel,
    split: tuple[np.ndarray, np.ndarray],
    path: str | Path,
    device: str = "cpu",
    n: int = 6,
) -> Path | None:
    """The first ``n`` images of ``split`` with the glimpse trajectory; ``None`` without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    from matplotlib.patches import Rectangle

    n = min(n, len(split[1]))
    model.eval()
    x = torch.tensor(split[0][:n], device=device).float().div_(255).unsqueeze(1)  # (n, 1, S, S)
    y = split[1][:n]
    pred = model(x)[0].argmax(1).cpu()
    locs = model.glimpse_locations().cpu().double()  # (T, n, 2) as (y, x)
    glimpse, size = model.glimpse_network.glimpse, x.size(-1)
    g0 = glimpse.patch_sizes[0]
    pad = (g0 - 1) // 2
    room = size + 2 * pad - g0
    centre = (torch.floor(((locs + 1) / 2 * room).clamp(0, room)) - pad + (g0 - 1) / 2).numpy()
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(x[i, 0].cpu().numpy(), cmap="gray")
        cy, cx = centre[:, i, 0], centre[:, i, 1]
        ax.plot(cx, cy, "-", color="tab:orange", lw=1)
        ax.scatter(cx, cy, c=range(len(cx)), cmap="autumn", s=12, zorder=3)
        for g in glimpse.patch_sizes:  # the patches of the last glimpse
            ax.add_patch(Rectangle((cx[-1] - g / 2, cy[-1] - g / 2), g, g, fill=False, ec="cyan"))
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_title(f"label {int(y[i])}, pred {int(pred[i])}", fontsize=8)
        ax.axis("off")
    fig.suptitle("glimpse centres (first red → last yellow; cyan: last glimpse)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
