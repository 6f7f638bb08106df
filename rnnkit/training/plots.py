"""The curves plotted at the end of training: losses (language models), errors (RAM)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or ``None`` when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt, fig, path: str | Path) -> Path:
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
    if history.get("train"):
        it, loss = zip(*history["train"])
        ax.plot(it, loss, lw=0.8, alpha=0.7, label=f"{train_label} (per iteration)")
    if history.get("valid"):
        it, loss = zip(*[(v["iteration"], v["loss"]) for v in history["valid"]])
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
