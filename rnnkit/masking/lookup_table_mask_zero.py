"""LookupTableMaskZero: an embedding whose index 0 is padding, the original ``nn.LookupTableMaskZero``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import expect_integer, expect_positive_int, expect_tensor


class LookupTableMaskZero(nn.Module):
    """Embedding of ``n_index`` tokens (indices ``1..n_index``); index ``0`` gives a zero vector.

    ``weight`` has ``n_index + 1`` rows, row ``i`` for index ``i``, as in the original. Row 0
    never matters: the padding positions' output is forced to zero and sends no gradient to
    any row, even after every parameter is re-initialised (e.g. ``uniform_(-0.1, 0.1)``).
    Padding rows feed masked step modules an all-zero row, which they treat as padding.

    Shape:
        indices ``(*)`` (``torch.long``) → ``(*, n_output)``.

    Example:
        >>> emb = LookupTableMaskZero(10, 4)
        >>> emb(torch.tensor([0, 3])).abs().sum(1) > 0
        tensor([False,  True])
    """

    def __init__(
        self,
        n_index: int,
        n_output: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.n_index = expect_positive_int(name, n_index, "n_index")
        self.n_output = expect_positive_int(name, n_output, "n_output")
        self.weight = nn.Parameter(torch.empty(n_index + 1, n_output, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the embeddings from ``N(0, 1)`` and zero row 0 (the padding index)."""
        nn.init.normal_(self.weight)
        with torch.no_grad():
            self.weight[0].zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The embeddings ``(*, n_output)`` of the indices ``(*)``; index 0 gives a zero row."""
        name = type(self).__name__
        expect_tensor(name, input)
        expect_integer(name, input)
        if input.numel() and (int(input.min()) < 0 or int(input.max()) > self.n_index):
            bad = input[(input < 0) | (input > self.n_index)][0].item()
            raise ValueError(
                f"{name}: expected indices in 0..{self.n_index} (0 is padding), got {bad}"
            )
        out = F.embedding(input, self.weight, padding_idx=0)
        return out.masked_fill((input == 0).unsqueeze(-1), 0)

    def extra_repr(self) -> str:
        return f"{self.n_index}, {self.n_output}"
