"""Training the Recurrent Attention Model on MNIST, as the original ``recurrent-visual-attention.lua``.

Reusable without a command line: ``train_ram(RAMConfig(data_dir=...))``. Loss: class NLL +
``VRClassReward`` (REINFORCE on the locator, MSE on the baseline); SGD with dpnn's momentum
(the gradient enters the buffer damped by the momentum factor), or Adam, which reaches a
given error in far fewer epochs (docs/results.md), and the learning rate decayed
linearly to ``min_lr`` at ``saturate_epoch``; early stopping on the validation error. Like
the LM trainer, checkpoints are atomic (each epoch, every ``checkpoint_every`` iterations,
on SIGINT/SIGTERM and at the time budget) and ``resume=True`` continues exactly.
"""

from __future__ import annotations

import dataclasses
import json
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.mnist import load_mnist, translate
from ..models.recurrent_attention_model import RecurrentAttentionModel
from ..reinforce.vr_class_reward import VRClassReward
from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .config import _opt
from .distributed import STOP_REASONS, Processes, run_in_processes
from .lm_trainer import ConfigError, _progress, _StopRequest
from .plots import plot_error_curves

FORMAT = "rnnkit-ram-1"
REQUIRED_KEYS = ("format", "model_config", "model", "best", "optimizer", "config", "state", "rng")
EVAL_BATCH = 500


@dataclass
class RAMConfig:
    """Defaults of the original example (``recurrent-visual-attention.lua``)."""

    data_dir: str | None = _opt(None, "folder with the four MNIST IDX gzip files (required)")
    translated: bool = _opt(False, "translated MNIST: digits at random in a 60×60 canvas")
    canvas: int = _opt(60, "canvas side of translated MNIST")
    glimpse_size: int = _opt(8, "side of the glimpse patches")
    glimpse_depth: int = _opt(1, "patches per glimpse")
    glimpse_scale: float = _opt(2.0, "size ratio of successive patches")
    glimpse_hidden: int = _opt(128, "width of the glimpse sensor")
    locator_hidden: int = _opt(128, "width of the location sensor")
    image_hidden: int = _opt(256, "width of the glimpse network's joint layer")
    hidden_size: int = _opt(256, "width of the core network")
    n_glimpses: int = _opt(7, "glimpses per image (the original's rho)")
    location_std: float = _opt(0.11, "the locator samples with std 2 × this")
    unit_pixels: float = _opt(13.0, "pixels the glimpse moves for a locator output of 1")
    lstm: bool = _opt(False, "an LSTM core instead of Recurrent")
    reward_scale: float = _opt(1.0, "reward of a correct classification")
    init_range: float = _opt(0.1, "initialise every parameter uniformly in ±init_range")
    optimizer: str = _opt("sgd", "sgd (the original's) or adam", choices=("sgd", "adam"))
    learning_rate: float = _opt(0.01, "initial learning rate")
    min_lr: float = _opt(1e-5, "learning rate reached at --saturate-epoch")
    saturate_epoch: int = _opt(800, "epoch at which the linear decay reaches --min-lr")
    momentum: float = _opt(0.9, "momentum (dpnn's: damped by the same factor; 0: none)")
    max_out_norm: float = _opt(-1.0, "if > 0, cap the norm of each unit's incoming weights")
    cutoff_norm: float = _opt(-1.0, "if > 0, clip the global gradient norm")
    batch_size: int = _opt(20, "images per iteration")
    max_epochs: int = _opt(2000, "number of epochs")
    max_tries: int = _opt(100, "stop after this many epochs without a better validation error")
    valid_size: int = _opt(10000, "last images of the training files held out for validation")
    time_budget: float | None = _opt(None, "stop (with a checkpoint) after this many seconds")
    checkpoint_every: int = _opt(1000, "also checkpoint every this many iterations (0: epochs)")
    out_dir: str = _opt("runs/ram", "where checkpoint.pt, log.json and glimpses.png go")
    resume: bool = _opt(False, "continue exactly from out_dir/checkpoint.pt")
    device: str = _opt("cpu", "torch device, e.g. cpu or cuda")
    seed: int = _opt(0, "random seed (also places the translated digits)")
    progress: bool = _opt(True, "show a progress bar")

    def model_config(self) -> dict:
        keys = ("glimpse_size", "glimpse_depth", "glimpse_scale", "glimpse_hidden",
                "locator_hidden", "image_hidden", "hidden_size", "n_glimpses",
                "location_std", "unit_pixels", "lstm")  # fmt: skip
        size = self.canvas if self.translated else 28
        return {"image_size": size, **{k: getattr(self, k) for k in keys}}


def _check_config(c: RAMConfig) -> None:
    if not c.data_dir:
        raise ConfigError("--data-dir is required: a folder with the MNIST IDX gzip files")
    for name in ("canvas", "glimpse_size", "glimpse_depth", "glimpse_hidden", "locator_hidden",
                 "image_hidden", "hidden_size", "n_glimpses", "batch_size", "max_epochs",
                 "max_tries", "valid_size", "saturate_epoch"):  # fmt: skip
        if not isinstance(getattr(c, name), int) or getattr(c, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer")
    if c.learning_rate <= 0 or c.location_std <= 0 or c.unit_pixels <= 0:
        raise ConfigError("--learning-rate, --location-std and --unit-pixels must be positive")
    if c.optimizer not in ("sgd", "adam"):
        raise ConfigError(f"--optimizer must be sgd or adam, got {c.optimizer!r}")
    if c.translated and c.canvas < 28:
        raise ConfigError(f"--canvas must be at least 28, got {c.canvas}")


def load_ram_checkpoint(path: str | Path) -> dict:
    """Read and validate a RAM checkpoint; raise :class:`CheckpointError` with a one-line reason."""
    return load_checkpoint(path, FORMAT, REQUIRED_KEYS, kind="attention-model")


def load_ram_data(c: RAMConfig) -> dict:
    """``{split: (images (N, S, S) uint8, labels (N,))}`` for train, valid and test."""
    images, labels = load_mnist(c.data_dir, "train")
    test = load_mnist(c.data_dir, "test")
    if c.valid_size >= len(images):
        raise ConfigError(
            f"--valid-size {c.valid_size} leaves no training images (the files hold {len(images)})"
        )
    if c.translated:
        images = translate(images, c.canvas, seed=c.seed)
        test = (translate(test[0], c.canvas, seed=c.seed + 1), test[1])
    cut = len(images) - c.valid_size
    return {"train": (images[:cut], labels[:cut]), "valid": (images[cut:], labels[cut:]),
            "test": test}  # fmt: skip


def _batch(split, index, device):
    images, labels = split
    x = torch.from_numpy(images[index]).to(device).float().div_(255).unsqueeze(1)  # (N, 1, S, S)
    return x, torch.from_numpy(labels[index]).to(device)


@torch.no_grad()
def error_rate(model: RecurrentAttentionModel, split, device: str) -> float:
    """Classification error in evaluation mode (the locator takes its mean location)."""
    was_training = model.training
    model.eval()
    wrong, n = 0, len(split[1])
    for start in range(0, n, EVAL_BATCH):
        x, y = _batch(split, np.arange(start, min(start + EVAL_BATCH, n)), device)
        wrong += int((model(x)[0].argmax(1) != y).sum())
    model.train(was_training)
    return wrong / max(n, 1)


def learning_rate(c: RAMConfig, epoch: int) -> float:
    """dp's linear decay: ``lr0`` at epoch 1, minus ``(lr0 - min_lr) / saturate_epoch`` per epoch."""
    return max(
        c.min_lr, c.learning_rate + (c.min_lr - c.learning_rate) * (epoch - 1) / c.saturate_epoch
    )


def train_ram(config: RAMConfig, echo: Callable[[str], None] = print) -> dict:
    """Train (or resume) a Recurrent Attention Model as ``config`` says; return a summary dict.

    Under ``torchrun`` each process takes its share of every batch's images (with its own
    location samples), ``DistributedDataParallel`` averages the gradients and the first
    process prints and writes the files.
    """
    return run_in_processes(_train_ram, config, echo)


def _train_ram(config: RAMConfig, echo: Callable[[str], None], procs: Processes) -> dict:
    out_dir = Path(config.out_dir)
    ckpt_path = out_dir / "checkpoint.pt"
    ckpt = load_ram_checkpoint(ckpt_path) if config.resume else None
    if ckpt is not None:  # the stored configuration wins, except how long and where
        keep = ("data_dir", "max_epochs", "max_tries", "time_budget", "checkpoint_every",
                "progress", "device")  # fmt: skip
        stored = RAMConfig(**ckpt["config"])
        config = dataclasses.replace(stored, **{k: getattr(config, k) for k in keep}, resume=True)
    _check_config(config)
    if ckpt is not None:
        procs.check_checkpoint(ckpt, ckpt_path)
    data = load_ram_data(config)
    dev = procs.device if procs.distributed else config.device

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    random.seed(config.seed)
    model_config = config.model_config()
    model = RecurrentAttentionModel(**model_config).to(dev)
    if config.init_range > 0:
        for p in model.parameters():
            torch.nn.init.uniform_(p, -config.init_range, config.init_range)
    if procs.distributed:  # same initial weights everywhere, different location samples
        torch.manual_seed(config.seed + procs.rank)
    params = list(model.parameters())
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    else:
        optimizer = torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum,
                                    dampening=config.momentum)  # fmt: skip
    criterion = VRClassReward(model, config.reward_scale)
    state = {"epoch": 1, "batch": 0, "iteration": 0, "elapsed": 0.0, "best_error": 1.0,
             "best_epoch": 0, "sums": [0.0, 0.0, 0]}  # fmt: skip
    history: list = []
    best = {k: v.clone() for k, v in model.state_dict().items()}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state, history, best = ckpt["state"], ckpt["history"], ckpt["best"]
        set_rng_state(ckpt["rng"][procs.rank] if procs.distributed else ckpt["rng"])
        echo(f"resuming from {ckpt_path}: epoch {state['epoch']}, iteration {state['iteration']}")

    def save() -> None:
        rngs = procs.gather(rng_state())  # every process calls this
        if not procs.is_main:
            return
        save_atomic(
            {"format": FORMAT, "model_config": model_config, "model": model.state_dict(),
             "best": best, "optimizer": optimizer.state_dict(),
             "config": dataclasses.asdict(config), "state": dict(state), "history": history,
             "rng": rngs if procs.distributed else rngs[0], "world_size": procs.world_size},
            ckpt_path,
        )  # fmt: skip

    n_train = len(data["train"][1])
    n_batches = -(-n_train // config.batch_size)
    echo(f"data: {'translated ' if config.translated else ''}MNIST from {config.data_dir}: "
         f"{n_train} train, {len(data['valid'][1])} valid, {len(data['test'][1])} test")  # fmt: skip
    echo(f"model: {model_config}, {sum(p.numel() for p in params):,} parameters")
    progress = _progress(config.progress and procs.is_main, n_batches)
    trained = procs.wrap(model)  # DistributedDataParallel when several processes
    start, stop_reason = time.perf_counter() - state["elapsed"], None
    with _StopRequest() as stop:
        while state["epoch"] <= config.max_epochs and stop_reason is None:
            if state["epoch"] - state["best_epoch"] > config.max_tries and state["best_epoch"]:
                stop_reason = f"no better validation error for {config.max_tries} epochs"
                break
            model.train()
            lr = learning_rate(config, state["epoch"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            order = torch.randperm(
                n_train,
                generator=torch.Generator().manual_seed(config.seed * 100_003 + state["epoch"]),
            ).numpy()  # the epoch's order depends only on (seed, epoch): resumable mid-epoch
            bar = progress(state["epoch"], state["batch"])
            while state["batch"] < n_batches:
                b = state["batch"]
                index = order[b * config.batch_size : (b + 1) * config.batch_size]
                x, y = _batch(
                    data["train"], np.array_split(index, procs.world_size)[procs.rank], dev
                )
                log_probs, baseline = trained(x)
                nll = F.nll_loss(log_probs, y)
                loss = nll + criterion((log_probs, baseline), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.cutoff_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.cutoff_norm)
                optimizer.step()
                if config.max_out_norm > 0:
                    with torch.no_grad():
                        for p in params:
                            if p.dim() == 2:  # a Linear weight (out, in): one row per unit
                                p.renorm_(2, 0, config.max_out_norm)
                batch_sums = procs.sum(
                    [nll.item() * len(y), int((log_probs.argmax(1) != y).sum()), len(y)]
                )  # the whole batch's, identical in every process
                sums = state["sums"] = [a + b for a, b in zip(state["sums"], batch_sums)]
                state["batch"] += 1
                state["iteration"] += 1
                state["elapsed"] = time.perf_counter() - start
                if bar is not None:
                    bar.set_postfix(nll=f"{sums[0] / sums[2]:.3f}", err=f"{sums[1] / sums[2]:.3f}",
                                    refresh=False)  # fmt: skip
                    bar.update(1)
                if config.checkpoint_every and state["iteration"] % config.checkpoint_every == 0:
                    save()
                if stop.signal is not None:
                    stop_reason = signal.Signals(stop.signal).name
                elif config.time_budget and state["elapsed"] >= config.time_budget:
                    stop_reason = "time budget"
                stop_reason = procs.agree_stop(stop_reason)
                if stop_reason:
                    break
            if bar is not None:
                bar.close()
            if stop_reason is None:  # a full epoch: validate, keep the best model, move on
                valid = error_rate(model, data["valid"], dev)
                sums = state["sums"]
                history.append({"epoch": state["epoch"], "train_nll": sums[0] / sums[2],
                                "train_error": sums[1] / sums[2], "valid_error": valid, "lr": lr})  # fmt: skip
                mark = ""
                if valid < state["best_error"] or not state["best_epoch"]:
                    state["best_error"], state["best_epoch"] = valid, state["epoch"]
                    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    mark = " (best)"
                echo(f"epoch {state['epoch']}: train nll {sums[0] / sums[2]:.4f}, train error "
                     f"{sums[1] / sums[2]:.2%}, valid error {valid:.2%}{mark} (lr {lr:.4g})")  # fmt: skip
                state.update(epoch=state["epoch"] + 1, batch=0, sums=[0.0, 0.0, 0])
            save()
        if stop_reason is None and stop.signal is not None:
            stop_reason = signal.Signals(stop.signal).name
        if stop_reason in STOP_REASONS:  # not early stopping, which every process agrees on
            stop_reason = procs.agree_stop(stop_reason)

    summary = {"iterations": state["iteration"], "epochs_completed": state["epoch"] - 1,
               "elapsed_s": state["elapsed"], "stopped_by": stop_reason,
               "checkpoint": str(ckpt_path)}  # fmt: skip
    if stop_reason in ("SIGINT", "SIGTERM"):
        echo(
            f"interrupted ({stop_reason}): checkpoint saved to {ckpt_path}; continue with --resume"
        )
        summary["interrupted"] = True
        return summary
    if stop_reason:
        echo(f"stopped: {stop_reason}; checkpoint saved to {ckpt_path}")
    if state["best_epoch"]:
        model.load_state_dict(best)  # the original tested the model of the best epoch
    summary.update(best_epoch=state["best_epoch"],
                   valid_error=error_rate(model, data["valid"], dev),
                   test_error=error_rate(model, data["test"], dev))  # fmt: skip
    which = (
        f"best epoch {state['best_epoch']}"
        if state["best_epoch"]
        else "partly trained, no full epoch"
    )
    echo(f"final ({which} model): valid error {summary['valid_error']:.2%}, "
         f"test error {summary['test_error']:.2%}")  # fmt: skip
    if not procs.is_main:
        return summary
    plot = plot_glimpses(model, data["test"], out_dir / "glimpses.png", dev)
    title = (f"RAM on {'translated ' if config.translated else ''}MNIST: best epoch "
             f"{state['best_epoch']}, test error {summary['test_error']:.2%}")  # fmt: skip
    curves = plot_error_curves(history, out_dir / "errors.png", title)
    log_path = out_dir / "log.json"
    log_path.write_text(json.dumps({"config": dataclasses.asdict(config), "model": model_config,
                                    "summary": summary, "history": history}, indent=1))  # fmt: skip
    echo(f"wrote {log_path}" + "".join(f", {p}" for p in (plot, curves) if p))
    summary["plot"] = str(plot) if plot else None
    summary["curves"] = str(curves) if curves else None
    return summary


@torch.no_grad()
def plot_glimpses(model: RecurrentAttentionModel, split, path, device="cpu", n: int = 6):
    """The first ``n`` images of ``split`` with the glimpse trajectory; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        return None
    n = min(n, len(split[1]))
    model.eval()
    x, y = _batch(split, np.arange(n), device)
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
