"""The loss-curve plot written at the end of training."""

from __future__ import annotations

from pathlib import Path


def plot_loss_curves(history: dict, path: str | Path, title: str = "") -> Path | None:
    """Training loss per iteration and validation loss per epoch, as a PNG. ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    if history.get("train"):
        it, loss = zip(*history["train"])
        ax.plot(it, loss, lw=0.8, alpha=0.7, label="train (per iteration)")
    if history.get("valid"):
        it, loss = zip(*[(v["iteration"], v["loss"]) for v in history["valid"]])
        ax.plot(it, loss, "o-", label="validation (per epoch)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title, fontsize=9, wrap=True)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
