"""Small composition helpers for step functions that take or return several tensors.

The original's ``ParallelTable``, ``CAddTable``, ``JoinTable`` and ``SelectTable``, as
needed by ``Recurrence`` and ``Recurrent`` compositions. Each accepts its inputs either as
separate arguments or as one tuple, so they chain inside ``nn.Sequential``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._checks import describe_value, expect_tensor, user_errors


def _unpack(name: str, inputs: tuple) -> tuple:
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = tuple(inputs[0])
    if not inputs:
        raise ValueError(f"{name}: expected at least one input, got none")
    return inputs


def _tensors(name: str, inputs: tuple) -> tuple:
    for i, x in enumerate(inputs):
        expect_tensor(name, x, f"input {i}")
    return inputs


class CAddTable(nn.Module):
    """Element-wise sum of its inputs: ``CAddTable()(a, b) == a + b``."""

    def forward(self, *inputs: Any) -> torch.Tensor:
        """The element-wise sum of the inputs (given as arguments or as one tuple)."""
        inputs = _tensors("CAddTable", _unpack("CAddTable", inputs))
        out = inputs[0]
        for x in inputs[1:]:
            if x.shape != out.shape:
                raise ValueError(
                    f"CAddTable: expected inputs of one shape, got {tuple(out.shape)} and {tuple(x.shape)}"
                )
            out = out + x
        return out


class JoinTable(nn.Module):
    """Concatenates its inputs along ``dim`` (last by default)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: Any) -> torch.Tensor:
        """The inputs concatenated along ``dim``."""
        inputs = _tensors("JoinTable", _unpack("JoinTable", inputs))
        ranks = {x.dim() for x in inputs}
        dim = self.dim % inputs[0].dim() if inputs[0].dim() else None
        same = (
            len(ranks) == 1
            and dim is not None
            and all(
                x.shape[:dim] + x.shape[dim + 1 :]
                == inputs[0].shape[:dim] + inputs[0].shape[dim + 1 :]
                for x in inputs
            )
        )
        if not same:
            raise ValueError(
                f"JoinTable: expected inputs of one rank whose sizes agree except along dim "
                f"{self.dim}, got {describe_value(inputs)}"
            )
        return torch.cat(inputs, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class SelectTable(nn.Module):
    """Picks one element of a tuple: ``SelectTable(0)((h, c)) is h``."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, *inputs: Any) -> Any:
        """Element ``index`` of the inputs."""
        inputs = _unpack("SelectTable", inputs)
        if not -len(inputs) <= self.index < len(inputs):
            raise ValueError(
                f"SelectTable: index {self.index} out of range for {len(inputs)} inputs"
            )
        return inputs[self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"


class ParallelTable(nn.Module):
    """Applies the i-th module to the i-th input; optionally merges the results.

    ``ParallelTable(a, b)(x, y) == (a(x), b(y))``;
    ``ParallelTable(a, b, merge=CAddTable())(x, y) == a(x) + b(y)``.
    """

    def __init__(self, *modules: nn.Module, merge: nn.Module | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleList(modules)
        self.merge = merge

    def forward(self, *inputs: Any) -> Any:
        """``(branch_i(input_i) …)``, or their ``merge``."""
        inputs = _unpack("ParallelTable", inputs)
        if len(inputs) != len(self.branches):
            raise ValueError(
                f"ParallelTable: expected {len(self.branches)} inputs, got {len(inputs)}"
            )
        with user_errors("ParallelTable", "a branch or the merge", inputs):
            outputs = tuple(m(x) for m, x in zip(self.branches, inputs))
            return outputs if self.merge is None else self.merge(outputs)
