"""Several training processes through ``torch.distributed``, launched with ``torchrun``.

The successor of the original's multi-GPU scripts, as data parallelism: every process holds
the whole model (``DistributedDataParallel`` averages the gradients), trains on its own
share of the batch, and the processes agree on when to stop and checkpoint. Without
``torchrun`` (no ``WORLD_SIZE`` in the environment, or 1) everything here is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from .. import _nest
from .checkpoint import CheckpointError

_R = TypeVar("_R")

# the reasons a training loop stops early, in the order that wins when processes disagree
# (early stopping and non-finite values are seen by every process at the same iteration)
STOP_REASONS = (None, "early stop", "time budget", "non-finite", "SIGTERM", "SIGINT")


@dataclass
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """The process that prints and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, device: str) -> Processes:
        """Join the process group ``torchrun`` describes (gloo on CPU, NCCL on CUDA).

        ``device`` ``cuda`` becomes ``cuda:LOCAL_RANK``: one GPU per process.
        """
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls(device=device)
        cuda = torch.device(device).type == "cuda"
        if cuda:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(device)
        owns = not dist.is_initialized()
        if owns:
            dist.init_process_group("nccl" if cuda else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), device, owns)

    def check_checkpoint(self, ckpt: dict, path: str | os.PathLike[str]) -> None:
        """A checkpoint holds one carried state and RNG state per process: the same count."""
        written_by = ckpt.get("world_size", 1)
        if written_by != self.world_size:
            raise CheckpointError(
                f"checkpoint {path} was written by {written_by} process(es); "
                f"resume it with as many, not {self.world_size}"
            )

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` itself, or a ``DistributedDataParallel`` of it when distributed."""
        if not self.distributed:
            return model
        device_ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def shard(self, columns: int) -> slice:
        """This process's share of ``columns`` batch columns (they divide evenly)."""
        share = columns // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def agree_stop(self, reason: str | None) -> str | None:
        """The stop reason of the whole group: the strongest one any process has."""
        if not self.distributed:
            return reason
        code = torch.tensor([STOP_REASONS.index(reason)], device=self.device)
        dist.all_reduce(code, op=dist.ReduceOp.MAX)
        return STOP_REASONS[int(code.item())]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums of ``values`` over the processes (counts, summed losses)."""
        if not self.distributed:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return total.tolist()

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the processes (e.g. each one's loss on its share)."""
        return self.sum([value])[0] / self.world_size

    def gather(self, obj: object) -> list:
        """``[obj of rank 0, obj of rank 1, …]`` on every process (tensors moved to the CPU)."""
        obj = _nest.map_tensors(lambda t: t.detach().cpu(), obj)
        if not self.distributed:
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def run_in_processes(train: Callable[..., _R], config: Any, echo: Callable[[str], None]) -> _R:
    """``train(config, echo, procs)`` inside the ``torchrun`` group, if any.

    Joins the group (``config.device`` picks the backend), silences ``echo`` outside the
    first process, and leaves the group afterwards, even after an error.
    """
    procs = Processes.from_env(config.device)
    try:
        result = train(config, echo if procs.is_main else (lambda line: None), procs)
        # Nobody leaves the group while another process still uses it (tearing gloo down
        # under a peer can abort it). Not after an error: the others may never get here.
        procs.barrier()
        return result
    finally:
        procs.close()
