"""Training the Recurrent Attention Model on MNIST, as the original ``recurrent-visual-attention.lua``.

Reusable without a command line: ``train_ram(RAMConfig(data_dir=...))``. Loss: class NLL +
``VRClassReward`` (REINFORCE on the locator, MSE on the baseline); SGD with dpnn's momentum
(the gradient enters the buffer damped by the momentum factor), or Adam, which reaches a
given error in far fewer epochs (docs/results.md), and the learning rate decayed linearly
to ``min_lr`` at ``saturate_epoch``; early stopping on the validation error. The loop is
:class:`~rnnkit.training.trainer.Trainer`'s: atomic checkpoints, ``best.pt``, exact resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..data.mnist import FILES, load_mnist, translate
from ..models.recurrent_attention_model import RecurrentAttentionModel
from ..reinforce.vr_class_reward import VRClassReward
from . import progress as _progress
from .checkpoint import load_checkpoint
from .checks import FINITE, FRACTION, NONNEG, NONNEG_INT, POSITIVE, POSITIVE_INT, ConfigError
from .loop_config import SEED, LoopConfig, _opt
from .plots import plot_error_curves, plot_glimpses
from .schedule import linear_lr
from .task import Task
from .trainer import Trainer

FORMAT = "rnnkit-ram-1"
REQUIRED_KEYS = ("format", "model_config", "model", "optimizer", "config", "state", "rng")
EVAL_BATCH = 500


@dataclass
class RAMConfig(LoopConfig):
    """Defaults of the original example (``recurrent-visual-attention.lua``)."""

    renamed_fields: ClassVar[dict] = {"max_tries": "early_stop"}  # in checkpoints before 0.2

    data_dir: str | None = _opt(None, "folder with the four MNIST IDX gzip files (required)",
                                resume="data")  # fmt: skip
    translated: bool = _opt(False, "translated MNIST: digits at random in a 60×60 canvas")
    canvas: int = _opt(60, "canvas side of translated MNIST", check=POSITIVE_INT)
    glimpse_size: int = _opt(8, "side of the glimpse patches", check=POSITIVE_INT)
    glimpse_depth: int = _opt(1, "patches per glimpse", check=POSITIVE_INT)
    glimpse_scale: float = _opt(2.0, "size ratio of successive patches", check=POSITIVE)
    glimpse_hidden: int = _opt(128, "width of the glimpse sensor", check=POSITIVE_INT)
    locator_hidden: int = _opt(128, "width of the location sensor", check=POSITIVE_INT)
    image_hidden: int = _opt(256, "width of the glimpse network's joint layer", check=POSITIVE_INT)
    hidden_size: int = _opt(256, "width of the core network", check=POSITIVE_INT)
    n_glimpses: int = _opt(7, "glimpses per image (the original's rho)", check=POSITIVE_INT)
    location_std: float = _opt(0.11, "the locator samples with std 2 × this", check=POSITIVE)
    unit_pixels: float = _opt(13.0, "pixels the glimpse moves for a locator output of 1",
                              check=POSITIVE)  # fmt: skip
    lstm: bool = _opt(False, "an LSTM core instead of Recurrent")
    reward_scale: float = _opt(1.0, "reward of a correct classification", check=FINITE)
    init_range: float = _opt(0.1, "initialise every parameter uniformly in ±init_range",
                             check=NONNEG)  # fmt: skip
    optimizer: str = _opt("sgd", "sgd (the original's) or adam", choices=("sgd", "adam"))
    learning_rate: float = _opt(0.01, "initial learning rate", check=POSITIVE, resume="applies")
    momentum: float = _opt(0.9, "momentum (dpnn's: damped by the same factor; 0: none)",
                           check=FRACTION)  # fmt: skip
    lr_schedule: str = _opt(
        "linear", "learning-rate schedule: the original's linear decay to --min-lr at "
        "--saturate-epoch, or plateau (decay when the validation error stops improving)",
        choices=("linear", "plateau"), resume="applies",
    )  # fmt: skip
    min_lr: float = _opt(1e-5, "learning rate reached at --saturate-epoch", check=NONNEG,
                         resume="applies")  # fmt: skip
    saturate_epoch: int = _opt(800, "epoch at which the linear decay reaches --min-lr",
                               check=POSITIVE_INT, resume="applies")  # fmt: skip
    max_out_norm: float = _opt(-1.0, "if > 0, cap the norm of each unit's incoming weights",
                               check=FINITE, resume="applies")  # fmt: skip
    cutoff_norm: float = _opt(-1.0, "if > 0, clip the global gradient norm", check=FINITE,
                              resume="applies")  # fmt: skip
    batch_size: int = _opt(20, "images per iteration", check=POSITIVE_INT)
    max_epochs: int = _opt(2000, "number of epochs", check=POSITIVE_INT, resume="applies")
    early_stop: int = _opt(
        100, "stop after this many epochs without a better validation error (0: never; the "
        "original's --maxTries)", check=NONNEG_INT, resume="applies", aliases=("--max-tries",),
    )  # fmt: skip
    valid_size: int = _opt(10000, "last images of the training files held out for validation",
                           check=POSITIVE_INT)  # fmt: skip
    out_dir: str = _opt("runs/ram", "where the checkpoints, logs and plots go",
                        resume="invocation")  # fmt: skip
    seed: int = _opt(0, "random seed (also places the translated digits)",
                     check=SEED)  # fmt: skip

    def model_config(self) -> dict:
        keys = ("glimpse_size", "glimpse_depth", "glimpse_scale", "glimpse_hidden",
                "locator_hidden", "image_hidden", "hidden_size", "n_glimpses",
                "location_std", "unit_pixels", "lstm")  # fmt: skip
        size = self.canvas if self.translated else 28
        return {"image_size": size, **{k: getattr(self, k) for k in keys}}

    def clipping(self) -> tuple[str, float]:
        return "norm", max(self.cutoff_norm, 0.0)


def load_ram_checkpoint(path: str | Path) -> dict:
    """Read and validate a RAM checkpoint; raise :class:`~rnnkit.training.checkpoint.CheckpointError` with a one-line reason."""
    return load_checkpoint(path, FORMAT, REQUIRED_KEYS, kind="attention-model")


def load_ram_data(c: RAMConfig) -> dict:
    """``{split: (images (N, S, S) uint8, labels (N,))}`` for train, valid and test."""
    if not c.data_dir:
        raise ConfigError("ram: --data-dir is required: a folder with the MNIST IDX gzip files")
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


def _batch(
    split: tuple[np.ndarray, np.ndarray], index: np.ndarray, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = split
    x = torch.from_numpy(images[index]).to(device).float().div_(255).unsqueeze(1)  # (N, 1, S, S)
    return x, torch.from_numpy(labels[index]).to(device)


@torch.no_grad()
def error_rate(model: RecurrentAttentionModel, split: tuple[np.ndarray, np.ndarray], device: str, progress: bool = False,
               desc: str = "evaluating") -> float:  # fmt: skip
    """Classification error in evaluation mode (the locator takes its mean location)."""
    was_training = model.training
    model.eval()
    wrong, n = 0, len(split[1])
    for start in _progress.iterate(progress, range(0, n, EVAL_BATCH), -(-n // EVAL_BATCH), desc):
        x, y = _batch(split, np.arange(start, min(start + EVAL_BATCH, n)), device)
        wrong += int((model(x)[0].argmax(1) != y).sum())
    model.train(was_training)
    return wrong / max(n, 1)


def learning_rate(c: RAMConfig, epoch: int) -> float:
    """dp's linear decay: ``lr0`` at epoch 1, minus ``(lr0 - min_lr) / saturate_epoch`` per epoch."""
    return linear_lr(c.learning_rate, c.min_lr, c.saturate_epoch, epoch)


class RAMTask(Task[RecurrentAttentionModel]):
    """``config``: a :class:`RAMConfig`."""

    command, format, required_keys, kind = "ram", FORMAT, REQUIRED_KEYS, "attention-model"
    monitor, rate_unit, outputs = "valid_error", "img/s", ("glimpses.png", "errors.png")

    def check(self) -> None:
        c = self.config
        if not c.data_dir:
            raise ConfigError("ram: --data-dir is required: a folder with the MNIST IDX gzip files")
        if c.translated and c.canvas < 28:
            raise ConfigError(f"ram: --canvas must be at least 28, got {c.canvas}")

    def data_files(self, config: Any) -> dict[str, list[Path]]:
        folder = Path(config.data_dir)
        return {"data_dir": [folder / name for s in ("train", "test") for name in FILES[s]]}

    def setup(self, ckpt: dict | None) -> str:
        c = self.config
        self.show = c.progress and self.procs.is_main
        with _progress.status(self.show, "loading MNIST"):
            self.data = load_ram_data(c)
        n = {s: len(self.data[s][1]) for s in self.data}
        return (f"{'translated ' if c.translated else ''}MNIST from {c.data_dir}: {n['train']} "
                f"train, {n['valid']} valid, {n['test']} test")  # fmt: skip

    def build_model(self, device: str) -> RecurrentAttentionModel:
        c, self.device = self.config, device
        self.model_config = c.model_config()
        model = self.model = RecurrentAttentionModel(**self.model_config).to(device)
        if c.init_range > 0:
            for p in model.parameters():
                torch.nn.init.uniform_(p, -c.init_range, c.init_range)
        self.criterion = VRClassReward(model, c.reward_scale)
        return model

    def n_batches(self) -> int:
        return -(-len(self.data["train"][1]) // self.config.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[np.ndarray]:
        c = self.config
        # the epoch's order depends only on (seed, epoch): resumable mid-epoch
        generator = torch.Generator().manual_seed(c.seed * 100_003 + epoch)
        order = torch.randperm(len(self.data["train"][1]), generator=generator).numpy()
        for b in range(start, self.n_batches()):
            yield order[b * c.batch_size : (b + 1) * c.batch_size]

    def train_step(
        self, model: RecurrentAttentionModel, index: np.ndarray
    ) -> tuple[torch.Tensor, dict[str, float]]:
        share = np.array_split(index, self.procs.world_size)[self.procs.rank]
        x, y = _batch(self.data["train"], share, self.device)
        log_probs, baseline = model(x)
        nll = F.nll_loss(log_probs, y)
        loss = nll + self.criterion((log_probs, baseline), y)
        wrong = int((log_probs.argmax(1) != y).sum())
        return loss, {"nll": nll.item() * len(y), "error": wrong, "n": len(y)}

    def after_update(self, model: RecurrentAttentionModel) -> None:
        if self.config.max_out_norm > 0:
            with torch.no_grad():
                for p in model.parameters():
                    if p.dim() == 2:  # a Linear weight (out, in): one row per unit
                        p.renorm_(2, 0, self.config.max_out_norm)

    def batch_items(self, index: np.ndarray) -> int:
        return len(index) // self.procs.world_size

    def evaluate(self, model: RecurrentAttentionModel) -> dict:
        return {"valid_error": error_rate(model, self.data["valid"], self.device, self.show,
                                          "validation")}  # fmt: skip

    def describe_epoch(self, r: dict) -> str:
        return (f"epoch {r['epoch']}: train nll {r['train_nll']:.4f}, train error "
                f"{r['train_error']:.2%}, valid error {r['valid_error']:.2%} (lr {r['lr']:.4g})")  # fmt: skip

    def final_report(self, model: RecurrentAttentionModel, summary: dict, echo: Callable[[str], None]) -> dict:
        best = summary.get("best_checkpoint")
        if best and Path(best).is_file():  # the original tested the model of the best epoch
            model.load_state_dict(load_ram_checkpoint(best)["model"])
        which = f"best epoch {summary['best_epoch']}" if best else "partly trained, no full epoch"
        out = {"valid_error": error_rate(model, self.data["valid"], self.device, self.show,
                                         "validation"),
               "test_error": error_rate(model, self.data["test"], self.device, self.show, "test")}  # fmt: skip
        echo(f"final ({which} model): valid error {out['valid_error']:.2%}, "
             f"test error {out['test_error']:.2%}")  # fmt: skip
        return out

    def plots(self, model: RecurrentAttentionModel | None, history: dict, summary: dict) -> list[Path | None]:
        c, out_dir = self.config, Path(self.config.out_dir)
        glimpses = None
        if model is not None:
            glimpses = plot_glimpses(
                model, self.data["test"], out_dir / "glimpses.png", self.device
            )
        title = (f"RAM on {'translated ' if c.translated else ''}MNIST: best epoch "
                 f"{summary['best_epoch']}, test error {summary.get('test_error', float('nan')):.2%}")  # fmt: skip
        curves = plot_error_curves(history["valid"], out_dir / "errors.png", title)
        summary["plot"] = str(glimpses) if glimpses else None
        summary["curves"] = str(curves) if curves else None
        return [glimpses, curves]


def train_ram(config: RAMConfig, echo: Callable[[str], None] = print,
              given: set[str] | None = None) -> dict:  # fmt: skip
    """Train (or resume) a Recurrent Attention Model as ``config`` says; return a summary dict.

    Under ``torchrun`` each process takes its share of every batch's images (with its own
    location samples), ``DistributedDataParallel`` averages the gradients and the first
    process prints and writes the files.
    """
    return Trainer(RAMTask(config), echo, given).fit()
