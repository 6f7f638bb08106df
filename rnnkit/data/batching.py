"""BPTTBatcher: a token array cut into N contiguous streams, served in (T, N) chunks.

Replaces torch-rnn's ``util/DataLoader.lua`` and the batching half of the original rnn
package's ``dl.loadPTB`` (Zaremba et al.'s PTB reader): stream ``n`` is
``tokens[n*L:(n+1)*L]`` with ``L = len(tokens) // N``, so row ``n`` of chunk ``k+1`` continues
row ``n`` of chunk ``k`` -- the continuity that makes carrying the recurrent state across
chunks (``remember`` / ``remember_states``) correct. Unlike DataLoader, the last chunk may be
shorter than ``T`` instead of being dropped, so every stream position but the first is a target
exactly once per epoch. The streams are a view of the token array, never a copy: a
memory-mapped corpus (:func:`rnnkit.data.open_corpus`) is read chunk by chunk from disk, so a
corpus larger than memory trains in the memory of one chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch


class BPTTBatcher:
    """Time-major ``(inputs, targets)`` chunks for truncated backpropagation through time.

    Args:
        tokens: ``(num,)`` integer token ids: a numpy array (a ``np.memmap`` too), a tensor or
            a list; never copied.
        batch_size: ``N``, the number of parallel streams.
        seq_length: ``T``, the number of time steps per chunk.
        device: where every chunk is put; default CPU.

    Shape:
        - each chunk: ``inputs`` and ``targets`` LongTensors of shape ``(T, N)``; the last chunk
          may have fewer time steps. ``targets[t, n]`` is the token after ``inputs[t, n]`` in
          stream ``n``.

    Attributes:
        streams: ``(N, L)`` view of the tokens (array or tensor, in their own dtype).
        tokens_per_epoch: ``N * (L - 1)``, the number of target tokens in one epoch.

    Example:
        >>> b = BPTTBatcher(np.arange(10), batch_size=2, seq_length=3)
        >>> [x.tolist() for x, _ in b]
        [[[0, 5], [1, 6], [2, 7]], [[3, 8]]]
        >>> next(iter(b))[1].tolist()
        [[1, 6], [2, 7], [3, 8]]
    """

    def __init__(
        self,
        tokens: np.ndarray | torch.Tensor,
        batch_size: int,
        seq_length: int,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        for name, v in (("batch_size", batch_size), ("seq_length", seq_length)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"BPTTBatcher: expected {name} >= 1, got {v!r}")
        t = tokens if torch.is_tensor(tokens) else np.asarray(tokens)  # a memmap stays one
        if t.ndim != 1:
            raise ValueError(f"BPTTBatcher: expected tokens of shape (num,), got {tuple(t.shape)}")
        integer = (
            not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)
            if torch.is_tensor(t)
            else t.dtype.kind in "iu"
        )
        if not integer:
            raise TypeError(f"BPTTBatcher: expected integer token ids, got dtype {t.dtype}")
        num, N, T = len(t), int(batch_size), int(seq_length)
        L = num // N
        if L - 1 < T:
            most = num // (T + 1)
            hint = (
                f"at most {most} streams fit seq_length {T}"
                if most
                else f"even one stream needs {T + 1} tokens"
            )
            raise ValueError(
                f"BPTTBatcher: seq_length {T} is longer than the data allows: {num} tokens in "
                f"batch_size {N} streams give {L} tokens per stream, and one chunk needs "
                f"seq_length + 1 = {T + 1}; use a smaller seq_length or batch_size ({hint})"
            )
        self.batch_size, self.seq_length, self.stream_length = N, T, L
        self.device = torch.device(device) if device is not None else None
        self.streams = t[: N * L].reshape(N, L)  # (N, L), a view: nothing is read yet
        self.tokens_per_epoch = N * (L - 1)

    def __len__(self) -> int:
        """The number of chunks in one epoch, ``ceil((L - 1) / T)``."""
        return math.ceil((self.stream_length - 1) / self.seq_length)

    def chunk(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Chunk ``index`` (0-based) as ``(inputs, targets)``, each ``(T, N)``."""
        n = len(self)
        if (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < n
        ):
            raise IndexError(f"BPTTBatcher: expected a chunk index in [0, {n}), got {index!r}")
        start = int(index) * self.seq_length
        stop = min(start + self.seq_length, self.stream_length - 1)
        window = self.streams[:, start : stop + 1]  # (N, T + 1): the only tokens read
        if torch.is_tensor(window):
            window = window.to(dtype=torch.long)
        else:  # uint16/uint32 have no torch dtype: widen in numpy, then share the memory
            window = torch.from_numpy(window.astype(np.int64))
        window = window.t()  # (T + 1, N)
        if self.device is not None:
            window = window.to(self.device)
        return window[:-1].contiguous(), window[1:].contiguous()  # (T, N) each

    def iter_from(self, start_chunk: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The chunks from ``start_chunk`` to the end of the epoch (to resume mid-epoch).

        ``start_chunk == len(self)`` yields nothing (the epoch was complete).
        """
        n = len(self)
        if isinstance(start_chunk, bool) or not isinstance(start_chunk, (int, np.integer)):
            raise TypeError(f"BPTTBatcher: expected an int start_chunk, got {start_chunk!r}")
        if not 0 <= start_chunk <= n:
            raise ValueError(f"BPTTBatcher: expected start_chunk in [0, {n}], got {start_chunk}")
        return (self.chunk(k) for k in range(int(start_chunk), n))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_from(0)

    def __repr__(self) -> str:
        return (
            f"BPTTBatcher(batch_size={self.batch_size}, seq_length={self.seq_length}, "
            f"stream_length={self.stream_length}, chunks={len(self)})"
        )
