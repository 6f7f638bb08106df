"""Optimisers and gradient clipping for models whose embedding and output rows get sparse gradients.

A sparse gradient (``torch.sparse_coo_tensor``) holds only the rows a step used: the
embedding rows of its input words, and with an NCE / sampled output layer the rows of its
targets and noise words. What each piece costs per step is then ``O(rows used)``, not
``O(V)``:

- SGD: ``torch.optim.SGD`` adds a sparse gradient to the used rows only (no momentum
  buffer over all ``V`` rows unless ``--momentum`` is set, which densifies it).
- Adam: :class:`LazyAdam` — ``torch.optim.SparseAdam`` for the sparse parameters (moments
  updated, and the step taken, only for the rows present in the gradient: "lazy" Adam; a
  row not used in a step keeps its moments instead of decaying them) and
  ``torch.optim.Adam`` for the dense ones (the recurrent layers), same hyper-parameters.
- clipping and the logged gradient norm coalesce each sparse gradient first (duplicate
  rows summed) and read its values only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import nn


class LazyAdam:
    """``SparseAdam`` on ``sparse`` parameters, ``Adam`` on the others, as one optimiser.

    ``param_groups`` are the two optimisers' groups (setting ``group['lr']`` reaches both);
    ``state_dict()`` holds both states.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        sparse: Iterable[nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        params, ids = list(params), {id(p) for p in sparse}
        dense = [p for p in params if id(p) not in ids]
        sparse = [p for p in params if id(p) in ids]
        kinds = ((torch.optim.SparseAdam, sparse), (torch.optim.Adam, dense))
        self.parts = [kind(ps, lr=lr, betas=betas, eps=eps) for kind, ps in kinds if ps]
        self.defaults = {"lr": lr, "betas": betas, "eps": eps}

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for opt in self.parts for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.parts:
            opt.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = closure() if closure is not None else None
        for opt in self.parts:
            opt.step()
        return loss

    def state_dict(self) -> dict:
        return {"lazy_adam": [opt.state_dict() for opt in self.parts]}

    def load_state_dict(self, state_dict: dict) -> None:
        parts = state_dict.get("lazy_adam") if isinstance(state_dict, dict) else None
        if not isinstance(parts, list) or len(parts) != len(self.parts):
            raise ValueError(
                "LazyAdam: expected the state of a LazyAdam over the same sparse and dense "
                "parameters (saved by a run with the same --sparse and --optimizer)"
            )
        for opt, s in zip(self.parts, parts):
            opt.load_state_dict(s)

    def __repr__(self) -> str:
        return f"LazyAdam({', '.join(type(o).__name__ for o in self.parts)})"


def coalesce_grads(params: Iterable[torch.Tensor]) -> None:
    """Replace every sparse gradient by its coalesced form (each row once)."""
    for p in params:
        if p.grad is not None and p.grad.is_sparse and not p.grad.is_coalesced():
            p.grad = p.grad.coalesce()


def _values(g: torch.Tensor) -> torch.Tensor:
    return g.coalesce().values() if g.is_sparse else g


def grad_norm(params: Iterable[torch.Tensor]) -> float:
    """The global L2 norm of the gradients (sparse ones coalesced)."""
    norms = [_values(p.grad.detach()).norm() for p in params if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


@torch.no_grad()
def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> None:
    """``torch.nn.utils.clip_grad_norm_`` that also takes sparse gradients."""
    params = [p for p in params if p.grad is not None]
    coalesce_grads(params)
    total = grad_norm(params)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in params:
            g = cast(torch.Tensor, p.grad)  # not None: left out above
            (g.values() if g.is_sparse else g).mul_(scale)


@torch.no_grad()
def clip_grad_value(params: Iterable[torch.Tensor], clip: float) -> None:
    """``torch.nn.utils.clip_grad_value_`` that also takes sparse gradients."""
    params = [p for p in params if p.grad is not None]
    coalesce_grads(params)
    for p in params:
        g = cast(torch.Tensor, p.grad)  # not None: left out above
        (g.values() if g.is_sparse else g).clamp_(-clip, clip)
