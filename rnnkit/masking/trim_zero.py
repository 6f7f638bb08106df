"""TrimZero: ``MaskZero`` that computes only the non-zero rows, the original ``nn.TrimZero``."""

from __future__ import annotations

from .mask_zero import MaskZero


class TrimZero(MaskZero):
    """Same result as :class:`MaskZero`, but ``module`` only sees the rows that are not padding.

    The kept rows are gathered (``index_select``), the module runs on them and its output is
    scattered back into zeros; faster than ``MaskZero`` when many rows are padding.

    Example:
        >>> layer = TrimZero(nn.Linear(3, 2), 1)
        >>> layer(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])).shape
        torch.Size([2, 2])
    """

    trim = True
