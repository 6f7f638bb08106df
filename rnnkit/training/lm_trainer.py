"""The language-model training loop: truncated BPTT over contiguous streams, as in torch-rnn.

Reusable without a command line: ``train_language_model(TrainConfig(...))``. It never loses
work: checkpoints are written atomically at epoch ends, every ``checkpoint_every``
iterations, when the time budget runs out and on SIGINT/SIGTERM, and ``resume=True``
continues exactly (same losses as an uninterrupted run with the same seed).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import _nest
from ..data import BPTTBatcher, DataError, Vocab
from ..models.language_model import LanguageModel
from ..nce.criterion import NCECriterion
from .checkpoint import (
    FORMAT,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
)
from .config import TrainConfig
from .distributed import Processes, run_in_processes
from .lm_data import load_lm_data
from .plots import plot_loss_curves

log = logging.getLogger(__name__)
DEFAULT_CORPUS_BUDGET_S = 180.0


class ConfigError(ValueError):
    """A configuration that cannot work with the data (e.g. seq_length longer than the data)."""


def build_model(model_config: dict, device: str) -> LanguageModel:
    return LanguageModel(**model_config).to(device)


EVAL_LOGITS = 1 << 25  # floats of logits per evaluation chunk (128 MB): caps T for a large V


@torch.no_grad()
def evaluate_split(
    model: LanguageModel, ids: np.ndarray, batch_size: int, seq_length: int, device: str,
    unk_index: int | None = None,
) -> dict:  # fmt: skip
    """Summed cross-entropy over ``ids`` (state carried across chunks, from zero state).

    Returns ``{"loss": mean nats/token, "targets": n}``, and with ``unk_index`` also
    ``"unk_targets"`` and ``"loss_excluding_unk"`` (the mean over the other targets).
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
    for inputs, targets in BPTTBatcher(ids, streams, seq_length):
        targets = targets.to(device).flatten()  # (T * N,)
        losses = F.cross_entropy(model(inputs.to(device)).flatten(0, 1), targets, reduction="none")
        total += losses.sum().item()
        count += targets.numel()
        if unk_index is not None:
            is_unk = targets == unk_index
            unk_total += losses[is_unk].sum().item()
            unk_count += int(is_unk.sum())
    model.train(was_training)
    out = {"loss": total / count, "targets": count}
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


def metrics(result: float | dict, level: str) -> dict:
    """Loss, perplexity, bits per character; with ``<unk>`` counts, the same without them."""
    result = {"loss": result} if isinstance(result, (int, float)) else result
    loss = result["loss"]
    out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
    if level == "char":
        out["bits_per_char"] = loss / math.log(2)
    if "unk_targets" in result:
        rest = result["loss_excluding_unk"]
        out["unk_fraction"] = result["unk_targets"] / result["targets"]
        out["loss_excluding_unk"] = rest
        out["perplexity_excluding_unk"] = math.exp(min(rest, 50.0)) if rest is not None else None
    return out


def describe(m: dict) -> str:
    extra = f", {m['bits_per_char']:.3f} bits/char" if "bits_per_char" in m else ""
    if m.get("unk_fraction") and m.get("perplexity_excluding_unk") is not None:
        extra += (
            f"; {100 * m['unk_fraction']:.2f}% of targets are <unk>, perplexity without them "
            f"{m['perplexity_excluding_unk']:.2f}"
        )
    return f"loss {m['loss']:.4f}, perplexity {m['perplexity']:.2f}{extra}"


class _StopRequest:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint and returns at the next iteration."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _check_config(config: TrainConfig) -> None:
    positive = (
        "wordvec_size",
        "rnn_size",
        "num_layers",
        "seq_length",
        "batch_size",
        "max_epochs",
        "lr_decay_every",
    )
    for name in positive:
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"--{name.replace('_', '-')} must be a positive integer, got {value!r}"
            )
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"--dropout must be in [0, 1), got {config.dropout}")
    if config.learning_rate <= 0:
        raise ConfigError(f"--learning-rate must be positive, got {config.learning_rate}")
    if isinstance(config.nce_k, bool) or not isinstance(config.nce_k, int) or config.nce_k < 0:
        raise ConfigError(f"--nce-k must be an integer >= 0, got {config.nce_k!r}")
    if not config.nce_alpha >= 0:
        raise ConfigError(f"--nce-alpha must be >= 0, got {config.nce_alpha}")
    if config.model_type not in ("lstm", "gru", "rnn"):
        raise ConfigError(f"unknown model type {config.model_type!r} (expected lstm, gru or rnn)")


def _from_legacy_state(states):
    """Checkpoints before the one state API held per layer a list of ``(1, N, H)`` tensors."""

    def layer(state):
        if isinstance(state, list) and all(
            isinstance(t, torch.Tensor) and t.dim() == 3 for t in state
        ):
            squeezed = tuple(t.squeeze(0) for t in state)
            return squeezed if len(squeezed) > 1 else squeezed[0]
        return state

    return tuple(layer(s) for s in states)


def _set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def train_language_model(config: TrainConfig, echo: Callable[[str], None] = print) -> dict:
    """Train (or resume) a language model as ``config`` says; return a summary dict.

    Under ``torchrun`` (several processes) each process trains on its share of the batch's
    streams, ``DistributedDataParallel`` averages the gradients, and the first process
    prints and writes the files; the result equals one process training the whole batch.
    """
    return run_in_processes(_train, config, echo)


def _train(config: TrainConfig, echo: Callable[[str], None], procs: Processes) -> dict:
    out_dir = Path(config.out_dir)
    ckpt_path = out_dir / "checkpoint.pt"
    ckpt = load_checkpoint(ckpt_path) if config.resume else None
    if ckpt is not None:
        # The stored configuration wins, except how long to go on and where to report.
        stored = ckpt["config"]
        for key in ("data", "data_dir"):
            given = getattr(config, key)
            if given is not None and given != stored.get(key):
                raise CheckpointError(
                    f"checkpoint {ckpt_path} was trained with --{key.replace('_', '-')} "
                    f"{stored.get(key)!r}, not {given!r}; resume without it or with the same"
                )
        keep = {
            "max_epochs",
            "time_budget",
            "checkpoint_every",
            "progress",
            "device",
            "sample_length",
            "temperature",
        }
        config = dataclasses.replace(
            TrainConfig(**stored), **{k: getattr(config, k) for k in keep}, resume=True
        )

    _check_config(config)
    if config.batch_size % procs.world_size:
        raise ConfigError(
            f"--batch-size {config.batch_size} must be a multiple of the {procs.world_size} "
            "processes (each trains on an equal share of the streams)"
        )
    if ckpt is not None:
        procs.check_checkpoint(ckpt, ckpt_path)
    device = procs.device if procs.distributed else config.device
    # A --data file is prepared into out_dir/corpus (by the first process), staged until the
    # checks below pass, so that a run refused here leaves out_dir as it was.
    data = load_lm_data(config, cache=out_dir / "corpus", write_cache=procs.is_main,
                        progress=config.progress and procs.is_main)  # fmt: skip
    vocab = data.vocab
    try:
        if ckpt is not None and Vocab.from_dict(ckpt["vocab"]) != vocab:
            raise CheckpointError(
                f"checkpoint {ckpt_path} was trained on another vocabulary than this data "
                "(checkpoints of rnnkit before <unk> and --min-count cannot resume on --data: "
                "start a new run)"
            )
        try:
            batcher = BPTTBatcher(data.splits["train"], config.batch_size, config.seq_length)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        for split in ("valid", "test"):
            if len(data.splits.get(split, ())) < 2:
                raise DataError(f"the {split} split is too small to evaluate (fewer than 2 tokens)")
    except BaseException:
        data.discard()
        raise
    data.commit()

    budget = config.time_budget
    if budget is None:
        budget = DEFAULT_CORPUS_BUDGET_S if not (config.data or config.data_dir) else 0.0

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    random.seed(config.seed)
    model_config = {
        "vocab_size": len(vocab),
        **{k: getattr(config, k) for k in config.model_config_keys()},
    }
    model = build_model(model_config, device)
    if config.init_range > 0:
        for p in model.parameters():
            torch.nn.init.uniform_(p, -config.init_range, config.init_range)
    if config.nce_k:  # as the original: NCE's own init (bias -log V) after the uniform one
        model.decoder.reset_parameters()
        model.decoder.set_unigrams(data.train_counts())
    if procs.distributed:  # same initial weights everywhere, different dropout masks
        torch.manual_seed(config.seed + procs.rank)
    model.vocab = vocab
    params = list(model.parameters())
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    else:
        optimizer = torch.optim.SGD(params, lr=config.learning_rate)

    state = {"epoch": 1, "chunk": 0, "iteration": 0, "lr": config.learning_rate, "elapsed": 0.0}
    history: dict = {"train": [], "valid": []}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state, history = ckpt["state"], ckpt["history"]
        mine = (lambda per_rank: per_rank[procs.rank]) if procs.distributed else (lambda x: x)
        # the checkpoint holds CPU tensors: the carried state goes where the model is
        carried = _nest.map_tensors(lambda t: t.to(device), mine(ckpt["carried"]))
        model.set_state(_from_legacy_state(carried))
        set_rng_state(mine(ckpt["rng"]))
        echo(f"resuming from {ckpt_path}: epoch {state['epoch']}, iteration {state['iteration']}")
    _set_lr(optimizer, state["lr"])

    def save(path: Path = ckpt_path) -> None:
        # every process calls this; each one's carried state and RNGs go in the file
        carried, rngs = procs.gather(_nest.detach(model.get_state())), procs.gather(rng_state())
        if not procs.is_main:
            return
        many = procs.distributed
        save_atomic(
            {
                "format": FORMAT, "model_config": model_config, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "vocab": vocab.to_dict(),
                "config": dataclasses.asdict(config), "state": dict(state), "history": history,
                "carried": carried if many else carried[0], "rng": rngs if many else rngs[0],
                "world_size": procs.world_size,
            },
            path,
        )  # fmt: skip

    def score(split: str) -> dict:
        eval_batch = config.eval_batch_size or config.batch_size
        result = evaluate_split(model, data.splits[split], eval_batch, config.seq_length, device,
                                vocab.unk_index)  # fmt: skip
        return metrics(result, vocab.level)

    echo(f"data: {data.description}")
    echo(f"model: {model_config}, {sum(p.numel() for p in params):,} parameters")
    n_chunks = len(batcher)
    tokens_per_chunk = config.batch_size * config.seq_length
    progress = _progress(config.progress and procs.is_main, n_chunks)
    trained = procs.wrap(model)  # DistributedDataParallel when several processes
    nce_loss = NCECriterion()
    columns = procs.shard(config.batch_size)
    start, stop_reason = time.perf_counter() - state["elapsed"], None
    with _StopRequest() as stop:
        while state["epoch"] <= config.max_epochs and stop_reason is None:
            model.train()
            if state["chunk"] == 0:
                model.forget()
            bar = progress(state["epoch"], state["chunk"])
            running = None
            for inputs, targets in batcher.iter_from(state["chunk"]):
                t0 = time.perf_counter()
                inputs, targets = inputs[:, columns].to(device), targets[:, columns].to(device)
                if config.nce_k:
                    loss = nce_loss(trained(inputs, targets))
                else:
                    logits = trained(inputs)
                    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    if config.clip_mode == "norm":
                        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                    else:
                        torch.nn.utils.clip_grad_value_(params, config.grad_clip)
                optimizer.step()
                value = procs.mean(loss.item())
                state["iteration"] += 1
                state["chunk"] += 1
                state["elapsed"] = time.perf_counter() - start
                history["train"].append((state["iteration"], value))
                running = value if running is None else 0.98 * running + 0.02 * value
                if bar is not None:
                    rate = inputs.numel() * procs.world_size / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix(loss=f"{running:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
                    bar.update(1)
                if config.checkpoint_every and state["iteration"] % config.checkpoint_every == 0:
                    save()
                if stop.signal is not None:
                    stop_reason = signal.Signals(stop.signal).name
                elif budget and state["elapsed"] >= budget:
                    stop_reason = "time budget"
                stop_reason = procs.agree_stop(stop_reason)
                if stop_reason:
                    break
            if bar is not None:
                bar.close()
            if stop_reason is None:  # a full epoch: validate, decay, move on
                valid = score("valid")
                history["valid"].append(
                    {
                        "epoch": state["epoch"],
                        "iteration": state["iteration"],
                        **valid,
                        "lr": state["lr"],
                    }
                )
                echo(f"epoch {state['epoch']}: validation {describe(valid)} (lr {state['lr']:.4g})")
                e = state["epoch"]
                if (
                    e >= config.lr_decay_start
                    and (e - config.lr_decay_start) % config.lr_decay_every == 0
                ):
                    state["lr"] *= config.lr_decay_factor
                    _set_lr(optimizer, state["lr"])
                state["epoch"] += 1
                state["chunk"] = 0
            save()

        if stop_reason is None and stop.signal is not None:  # arrived during the last validation
            stop_reason = signal.Signals(stop.signal).name
        stop_reason = procs.agree_stop(stop_reason)

    elapsed = state["elapsed"]
    tokens = state["iteration"] * tokens_per_chunk
    summary = {
        "iterations": state["iteration"], "epochs_completed": state["epoch"] - 1,
        "elapsed_s": elapsed, "tokens_per_s": tokens / max(elapsed, 1e-9),
        "stopped_by": stop_reason, "checkpoint": str(ckpt_path),
    }  # fmt: skip
    if stop_reason in ("SIGINT", "SIGTERM"):
        echo(
            f"interrupted ({stop_reason}): checkpoint saved to {ckpt_path}; continue with --resume"
        )
        summary["interrupted"] = True
        return summary
    if stop_reason:
        echo(f"stopped after {elapsed:.0f}s ({stop_reason}); checkpoint saved to {ckpt_path}")
    valid, test = score("valid"), score("test")
    echo(f"final validation {describe(valid)}")
    echo(f"final test {describe(test)}")
    summary.update(valid=valid, test=test)
    if config.sample_length > 0 and procs.is_main:
        sample = model.sample(config.sample_length, temperature=config.temperature)
        summary["sample"] = sample
        echo(f"--- sample (temperature {config.temperature}) ---\n{sample}\n---")
    if not procs.is_main:
        return summary
    plot = plot_loss_curves(history, out_dir / "loss.png", title=data.description[:80],
                            train_label="train NCE loss" if config.nce_k else "train")  # fmt: skip
    log_path = out_dir / "log.json"
    log_path.write_text(
        json.dumps(
            {
                "config": dataclasses.asdict(config),
                "model": model_config,
                "summary": summary,
                "history": history,
            },
            indent=1,
        )
    )
    echo(f"wrote {log_path}" + (f" and {plot}" if plot else ""))
    return summary


def _progress(enabled: bool, total: int):
    if not enabled:
        return lambda epoch, initial: None
    from tqdm import tqdm

    return lambda epoch, initial: tqdm(
        total=total,
        initial=initial,
        desc=f"epoch {epoch}",
        unit="it",
        dynamic_ncols=True,
        leave=False,
    )
