"""MaskZero: zeroes the output rows whose input row is all zeros, the original ``nn.MaskZero``."""

from __future__ import annotations

from typing import Any

from torch import nn

from .._checks import user_errors
from .._state import CarriesState
from .zero_mask import check_n_input_dim, masked_call, zero_rows


def _refuse_stateful(name: str, module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, CarriesState) and m.is_step_module:
            # Wrapping a step module would zero its output but not reset its state (a trap
            # of the original, its issues 123 and 214): masking belongs inside the module.
            raise TypeError(
                f"{name}: cannot decorate a step module ({type(m).__name__}), whose state would "
                f"not be reset; call its mask_zero(n_input_dim) / trim_zero(n_input_dim) instead"
            )


class MaskZero(nn.Module):
    """Decorates a (non-recurrent) module: output rows are zero where the input row is all zeros.

    The mask comes from the first tensor of the input (depth-first) with ``n_input_dim``
    non-batch dims; every tensor of the output gets those rows zeroed (so no gradient flows
    through them). Use it on layers between masked recurrent layers (e.g. a ``Linear`` and
    ``LogSoftmax`` before ``MaskZeroCriterion``) so padding stays zero.

    Shape:
        input ``(N, *)`` (or a nested tuple whose first tensor is) → ``module``'s output.

    Example:
        >>> layer = MaskZero(nn.Linear(3, 2), 1)
        >>> layer(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))[1]
        tensor([0., 0.], grad_fn=<SelectBackward0>)
    """

    trim = False

    def __init__(self, module: nn.Module, n_input_dim: int) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name}: expected an nn.Module, got {type(module).__name__}")
        _refuse_stateful(name, module)
        self.module = module
        self.n_input_dim = check_n_input_dim(name, n_input_dim)

    def forward(self, input: Any) -> Any:
        """``module(input)``, with zero output rows where the input row ``(N, *)`` is all zero."""
        name = type(self).__name__
        mask = zero_rows(name, input, self.n_input_dim)
        with user_errors(name, f"its module {type(self.module).__name__}", input):
            return masked_call(self.module, (input,), mask, self.trim)

    def extra_repr(self) -> str:
        return f"n_input_dim={self.n_input_dim}"
