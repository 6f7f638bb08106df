"""One training loop for every task: ``Trainer(task).fit()``.

It never loses work and never fails silently. Options are checked and the out-dir tried
before any work; checkpoints are written atomically at epoch ends, every
``checkpoint_every`` iterations, at the time budget and on SIGINT/SIGTERM, and
``resume=True`` continues exactly (the same losses as an uninterrupted run). ``best.pt``
keeps the epoch with the best validation score. A loss or gradient that is not finite is
found at the step it appears: the run stops there (or skips up to ``skip_nonfinite``
batches), keeps its last good checkpoint and still writes its logs. Under ``torchrun``
each process trains its share of every batch and the first one prints and writes.
"""

from __future__ import annotations

import importlib.util
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import progress as _progress
from .checkpoint import link_atomic, load_checkpoint, rng_state, save_atomic, set_rng_state
from .checks import ConfigError, check_config
from .distributed import Processes, run_in_processes
from .fingerprint import fingerprint
from .outdir import OUTPUTS, check_out_dir, check_writable_dir, prepare_out_dir
from .report import nonfinite_line, stop_line, summary_of, wrote_line
from .resume import given_fields, merge, stored_dict, upgrade_state
from .run_log import RunLog
from .schedule import first_lr, make_optimizer, next_lr
from .signals import StopRequest
from .sparse_grads import clip_grad_norm, clip_grad_value, grad_norm
from .task import Task

FRESH: dict[str, Any] = {"epoch": 1, "batch": 0, "iteration": 0, "elapsed": 0.0, "best": None, "best_epoch": 0,
         "plateau_bad": 0, "skipped_nonfinite": 0, "sums": {}}  # fmt: skip


def _finite_weights(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


class Trainer:
    """Runs ``task``: ``fit()`` returns the summary (``stopped_by``, ``interrupted`` …).

    ``given``: the options the user gave (on ``--resume`` they apply or are refused); by
    default those whose value differs from the default.
    """

    def __init__(self, task: Task, echo: Callable[[str], None] = print,
                 given: set[str] | None = None) -> None:  # fmt: skip
        self.task, self.echo = task, echo
        self.given = given_fields(task.config) if given is None else set(given)

    def fit(self) -> dict:
        return run_in_processes(self._fit, self.task.config, self.echo)

    # -- before training -------------------------------------------------------------
    def _check(self) -> None:
        task, c = self.task, self.task.config
        check_config(c, task.command)
        task.check()
        if c.tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                raise ConfigError(f"{task.command}: --tensorboard needs the tensorboard package "
                                  "(pip install 'rnnkit[tensorboard]')")  # fmt: skip
            check_writable_dir(task.command, "--tensorboard", c.tensorboard)

    def _start(self, procs: Processes) -> dict | None:
        task, c = self.task, self.task.config
        task.procs = procs
        self._check()
        check_out_dir(task.command, c.out_dir, resume=c.resume, overwrite=c.overwrite)
        path = Path(c.out_dir) / "checkpoint.pt"
        ckpt = (
            load_checkpoint(path, task.format, task.required_keys, task.kind) if c.resume else None
        )
        if ckpt is not None:
            task.config, self.prints = merge(c, self.given, ckpt, task.command, task.data_files)
            self._check()
            procs.check_checkpoint(ckpt, path)
        else:
            self.prints = {name: fingerprint(files, show=c.progress)
                           for name, files in task.data_files(c).items()}  # fmt: skip
        self.description = task.setup(ckpt)
        if procs.is_main:
            prepare_out_dir(c.out_dir, overwrite=c.overwrite, outputs=OUTPUTS + task.outputs)
        self.path = path
        return ckpt

    def _build(self, procs: Processes, ckpt: dict | None) -> None:
        task, c = self.task, self.task.config
        torch.manual_seed(c.seed)
        np.random.seed(c.seed)
        random.seed(c.seed)
        self.device = procs.device if procs.distributed else c.device
        self.model = task.build_model(self.device)
        if procs.distributed:  # same initial weights everywhere, different random streams
            torch.manual_seed(c.seed + procs.rank)
        self.params = list(self.model.parameters())
        sparse: list[nn.Parameter] = getattr(self.model, "sparse_parameters", list)()
        self.optimizer = make_optimizer(c, self.params, sparse)
        self.state = {**FRESH, "lr": first_lr(c, 1), "sums": {}}
        history = None
        if ckpt is not None:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.state, history = upgrade_state(FRESH, ckpt["state"], ckpt["history"])
            task.restore(self.model, ckpt)
            set_rng_state(ckpt["rng"][procs.rank] if procs.distributed else ckpt["rng"])
            # A new rate or schedule restarts from it; the same command line given again
            # (the stored values) continues the schedule where it was.
            stored = ckpt["config"]
            if any(k in self.given and getattr(c, k) != stored.get(k)
                   for k in ("learning_rate", "lr_schedule")):  # fmt: skip
                self.state["lr"] = first_lr(c, self.state["epoch"])
            self.echo(f"resuming from {self.path}: epoch {self.state['epoch']}, iteration "
                      f"{self.state['iteration']}")  # fmt: skip
        for group in self.optimizer.param_groups:
            group["lr"] = self.state["lr"]
        self.log = RunLog(c.out_dir, history, tensorboard=c.tensorboard, enabled=procs.is_main)
        self.saved_at = self.state["iteration"] if ckpt is not None else None

    def _save(self, best: bool = False) -> bool:
        """Checkpoint (in every process); ``False``, writing nothing, if a weight is not finite."""
        if not _finite_weights(self.model):
            return False
        entries = self.task.state_entries(self.model)
        rngs = self.procs.gather(rng_state())
        if self.procs.is_main:
            many = self.procs.distributed
            save_atomic({
                "format": self.task.format, "model_config": self.task.model_config,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "config": stored_dict(self.task.config), "state": dict(self.state),
                "history": self.log.history, "rng": rngs if many else rngs[0],
                "world_size": self.procs.world_size, "data_files": self.prints, **entries,
            }, self.path)  # fmt: skip
            if best:
                link_atomic(self.path, self.path.with_name("best.pt"))
            self.log.write_csv()
        self.saved_at = self.state["iteration"]
        return True

    # -- the loop --------------------------------------------------------------------
    def _fit(self, config: Any, echo: Callable[[str], None], procs: Processes) -> dict:
        """Train in this process (``echo`` prints only in the first one)."""
        task, self.procs, self.echo = self.task, procs, echo
        ckpt = self._start(procs)
        self._build(procs, ckpt)
        self.echo(f"data: {self.description}")
        self.echo(f"model: {task.model_config}, {sum(p.numel() for p in self.params):,} parameters")
        budget, self.trained = task.time_budget(), procs.wrap(self.model)
        self.t0, self.elapsed0, self.stop = time.perf_counter(), self.state["elapsed"], None
        with StopRequest() as signals:
            try:
                self._loop(signals, budget)
            finally:
                self.log.close()
            if self.stop is None and signals.signal is not None:  # during the last validation
                self.stop = signals.name
            self.stop = procs.agree_stop(self.stop)
        return self._finish()

    def _loop(self, signals: StopRequest, budget: float) -> None:
        task, c, st, procs = self.task, self.task.config, self.state, self.procs
        while st["epoch"] <= c.max_epochs and self.stop is None:
            epoch = st["epoch"]
            task.start_epoch(self.model, epoch, st["batch"])
            bar = _progress.bar(c.progress and procs.is_main, task.n_batches(), f"epoch {epoch}",
                                initial=st["batch"])  # fmt: skip
            for batch in task.batches(epoch, st["batch"]):
                t = time.perf_counter()
                if not self._step(batch):
                    break
                if bar is not None:
                    rate = (
                        task.batch_items(batch)
                        * procs.world_size
                        / max(time.perf_counter() - t, 1e-9)
                    )
                    means = {k: f"{v:.3f}" for k, v in self._epoch_means().items()}
                    bar.set_postfix({**means, task.rate_unit: f"{rate:,.0f}"}, refresh=False)
                    bar.update(1)
                if c.checkpoint_every and st["iteration"] % c.checkpoint_every == 0:
                    if not self._save():
                        self.stop = "non-finite"
                        break
                if signals.signal is not None:
                    self.stop = signals.name
                elif budget and time.perf_counter() - self.t0 >= budget:
                    self.stop = "time budget"
                self.stop = procs.agree_stop(self.stop)
                if self.stop:
                    break
            if bar is not None:
                bar.close()
            improved = False
            if self.stop is None:
                improved = self._end_epoch(epoch)
            if self.stop != "non-finite" and not self._save(best=improved):
                self.stop = "non-finite"

    def _epoch_means(self) -> dict:
        """The loss and the task's statistics, averaged over the epoch so far."""
        acc = self.state["sums"]
        means = {"loss": acc.get("loss", 0.0) / max(acc.get("steps", 1), 1)}
        means.update({k: v / acc["n"] for k, v in acc.items() if k not in ("loss", "steps", "n")})
        return means

    def _step(self, batch: Any) -> bool:
        """One batch: ``False`` when training must stop (non-finite values, no skips left)."""
        task, c, st, procs = self.task, self.task.config, self.state, self.procs
        loss, stats = task.train_step(self.trained, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stats = {"n": 1, **stats}
        total = procs.sum([loss.item(), grad_norm(self.params), *stats.values()])
        value, gnorm = total[0] / procs.world_size, total[1] / procs.world_size
        sums = dict(zip(stats, total[2:]))
        st["iteration"] += 1
        st["batch"] += 1
        st["elapsed"] = self.elapsed0 + time.perf_counter() - self.t0
        if not (math.isfinite(value) and math.isfinite(gnorm)):
            self.optimizer.zero_grad(set_to_none=True)
            st["skipped_nonfinite"] += 1
            self.log.skipped({"iteration": st["iteration"], "epoch": st["epoch"],
                              "loss": value, "grad_norm": gnorm})  # fmt: skip
            if st["skipped_nonfinite"] > c.skip_nonfinite:
                self.stop, self.bad = "non-finite", (value, gnorm)
                return False
            task.undo_step(self.model)
            return True
        mode, threshold = c.clipping()
        if threshold > 0:
            if mode == "norm":
                clip_grad_norm(self.params, threshold)
            else:
                clip_grad_value(self.params, threshold)
        self.optimizer.step()
        task.after_update(self.model)
        means = {k: v / sums["n"] for k, v in sums.items() if k != "n"}
        self.log.iteration({"iteration": st["iteration"], "epoch": st["epoch"], "lr": st["lr"],
                            "loss": value, "grad_norm": gnorm, **means})  # fmt: skip
        acc = st["sums"]
        for k, v in {"loss": value, "steps": 1, **sums}.items():
            acc[k] = acc.get(k, 0) + v
        return True

    def _end_epoch(self, epoch: int) -> bool:
        """Validate, keep the best, decide on early stopping and the next learning rate."""
        task, c, st = self.task, self.task.config, self.state
        metrics = task.evaluate(self.model)
        score = metrics[task.monitor]
        train = {f"train_{k}": v for k, v in self._epoch_means().items()}
        improved = math.isfinite(score) and (st["best"] is None or score < st["best"])
        if improved:
            st["best"], st["best_epoch"] = score, epoch
        record = {"epoch": epoch, "iteration": st["iteration"], **train, **metrics, "lr": st["lr"]}
        self.log.epoch(record)
        self.echo(task.describe_epoch(record) + (" (best)" if improved else ""))
        if c.early_stop and epoch - st["best_epoch"] >= c.early_stop:
            self.stop = "early stop"
        st["lr"] = next_lr(c, st, epoch, improved)
        for group in self.optimizer.param_groups:
            group["lr"] = st["lr"]
        st.update(epoch=epoch + 1, batch=0, sums={})
        return improved

    # -- the end ---------------------------------------------------------------------
    def _finish(self) -> dict:
        task, c, st, stop = self.task, self.task.config, self.state, self.stop
        this_run = time.perf_counter() - self.t0
        summary = summary_of(st, stop, this_run, self.path)
        line = stop_line(stop, this_run, self.path, task.monitor, c.early_stop)
        if line:
            self.echo(line)
        if stop in ("SIGINT", "SIGTERM"):
            return {**summary, "interrupted": True}
        if stop == "non-finite":
            self.echo(nonfinite_line(task.command, st["iteration"], getattr(self, "bad", None),
                                     self.path, self.saved_at, c.skip_nonfinite))  # fmt: skip
            summary["checkpoint"] = str(self.path) if self.saved_at is not None else None
            summary["nonfinite_iteration"] = st["iteration"]
        elif st["best_epoch"]:
            self.echo(f"best {task.monitor} {st['best']:.4f} at epoch {st['best_epoch']}: "
                      f"{summary['best_checkpoint']}")  # fmt: skip
        model = self.model if stop != "non-finite" else None
        if model is not None:
            summary.update(task.final_report(model, summary, self.echo))
        if not self.procs.is_main:
            return summary
        plots = [p for p in task.plots(model, self.log.history, summary) if p]
        csvs = self.log.write_csv()
        log = self.log.write_json(config=stored_dict(self.task.config), model=task.model_config,
                                  summary=summary)  # fmt: skip
        self.echo(wrote_line([log, *csvs, *plots]))
        return summary
