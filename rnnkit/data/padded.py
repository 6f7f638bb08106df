"""Padded batches of variable-length sequences, for the masking modules (index 0 is padding).

Replaces the hand-written padding loops of the original rnn package's examples (e.g.
``examples/sequence-to-one.lua`` and the ``MaskZero`` language-model recipe): sequences of
different lengths are batched time-major, padded with ``0`` on the left or the right, with
every token id shifted by one so that real tokens are ``1..V`` -- what
``LookupTableMaskZero(V, E)`` and ``MaskZeroCriterion`` expect (see ``docs/masking.md``).
:class:`Sentences` cuts a corpus split into its lines (word level: at ``<eos>``) without
copying it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


class Sentences(Sequence):
    """The sentences of a token array: pieces ending at ``eos_index`` (views, never copies).

    With ``with_previous_eos=True`` (the default) each sentence but the first starts with the
    ``<eos>`` that ended the one before, as a start-of-sentence token: next-token prediction
    then scores every token of the text but the very first exactly once, as the BPTT streams
    do, each from within its own sentence. A last piece without ``<eos>`` is a sentence too.

    Args:
        ids: ``(L,)`` token ids (a memory map is read in blocks to find the ends).
        eos_index: the id that ends a sentence (``vocab.index('<eos>')``, or ``'\\n'``'s at char
            level).

    Example:
        >>> s = Sentences(np.array([5, 6, 1, 7, 1, 8]), eos_index=1)
        >>> len(s), [x.tolist() for x in s]
        (3, [[5, 6, 1], [1, 7, 1], [1, 8]])
    """

    def __init__(self, ids: torch.Tensor | np.ndarray | Sequence[int], eos_index: int, *, with_previous_eos: bool = True) -> None:
        ids = ids if torch.is_tensor(ids) else np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"Sentences: expected ids of shape (L,), got {tuple(ids.shape)}")
        block = 1 << 24  # find the ends block by block: a memory map is never read whole
        found = [np.flatnonzero(np.asarray(ids[i : i + block]) == eos_index) + i + 1
                 for i in range(0, len(ids), block)]  # fmt: skip
        ends = np.concatenate([np.zeros(0, np.int64), *found]).astype(np.int64)
        if len(ids) and (not len(ends) or ends[-1] != len(ids)):
            ends = np.append(ends, len(ids))  # a last piece without <eos>
        starts = np.concatenate([[0], ends[:-1] - int(with_previous_eos)])[: len(ends)]
        self.ids, self.starts, self.ends = ids, starts.astype(np.int64), ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self.ids[self.starts[i] : self.ends[i]]

    def lengths(self) -> np.ndarray:
        """``(len(self),)`` the length of every sentence."""
        return self.ends - self.starts


class PaddedBatcher:
    """Time-major batches of variable-length sequences, padded with 0, tokens shifted to 1..V.

    Args:
        sequences: a sequence of ``(L_i,)`` integer id sequences with ids in ``0..V-1``
            (arrays, tensors, lists, or a :class:`Sentences`).
        batch_size: ``N``, sequences per batch (the last batch may be smaller).
        padding: ``"right"`` (``[a b c 0 0]``: language models, taggers) or ``"left"``
            (``[0 0 a b c]``: ``out[-1]`` is every row's last real step, for classifiers).
        next_token: yield ``(inputs, targets)`` for a language model -- each sequence
            without its last token, and without its first; sequences shorter than 2 are
            skipped. Otherwise yield ``(tokens, lengths)``.
        shuffle: a new random order of the sequences at every epoch (``iter``), drawn from
            ``generator`` (default: the global torch RNG).
        sort_by_length: within each group of ``50 * N`` sequences (in the possibly shuffled
            order), batch sequences of similar lengths together, so there is less padding.
        batch_first: ``(N, T)`` batches instead of ``(T, N)``.

    Shape:
        - ``tokens`` ``(T, N)`` LongTensor with ``T`` the longest sequence of the batch, real
          tokens ``id + 1``, padding ``0``; ``lengths`` ``(N,)`` LongTensor.
        - ``inputs`` and ``targets`` ``(T, N)``, padded at the same places, ``T`` one less.

    Example:
        >>> seqs = [np.array([4, 1, 2]), np.array([3]), np.array([0, 5])]
        >>> tokens, lengths = next(iter(PaddedBatcher(seqs, batch_size=3)))
        >>> tokens.T.tolist(), lengths.tolist()
        ([[5, 2, 3], [4, 0, 0], [1, 6, 0]], [3, 1, 2])
        >>> x, y = next(iter(PaddedBatcher(seqs, 3, padding="left", next_token=True)))
        >>> x.T.tolist(), y.T.tolist()           # [3] is too short to have a target
        ([[5, 2], [0, 1]], [[2, 3], [0, 6]])
    """

    def __init__(
        self,
        sequences: Sequence,
        batch_size: int,
        *,
        padding: str = "right",
        next_token: bool = False,
        shuffle: bool = False,
        sort_by_length: bool = False,
        batch_first: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"PaddedBatcher: expected batch_size >= 1, got {batch_size!r}")
        if padding not in ("left", "right"):
            raise ValueError(f"PaddedBatcher: expected padding 'left' or 'right', got {padding!r}")
        lengths = (
            sequences.lengths() if isinstance(sequences, Sentences)
            else np.array([len(s) for s in sequences], dtype=np.int64)
        )  # fmt: skip
        self.sequences, self.batch_size, self.padding = sequences, int(batch_size), padding
        self.next_token, self.shuffle, self.sort_by_length = next_token, shuffle, sort_by_length
        self.batch_first, self.generator = batch_first, generator
        self._lengths = lengths
        self._usable = np.flatnonzero(lengths >= (2 if next_token else 1))
        if not len(self._usable):
            need = "2 or more tokens" if next_token else "a token"
            raise ValueError(
                f"PaddedBatcher: expected at least one sequence of {need}, got "
                f"{len(lengths)} sequences of at most {int(lengths.max(initial=0))} tokens"
            )

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-len(self._usable) // self.batch_size)

    def _order(self) -> np.ndarray:
        order = self._usable
        if self.shuffle:
            perm = torch.randperm(len(order), generator=self.generator).numpy()
            order = order[perm]
        if self.sort_by_length:
            group = 50 * self.batch_size
            order = np.concatenate([
                part[np.argsort(-self._lengths[part], kind="stable")]
                for part in np.array_split(order, max(1, -(-len(order) // group)))
            ])  # fmt: skip
        return order

    def _pad(self, seqs: list[np.ndarray]) -> torch.Tensor:
        T = max(len(s) for s in seqs)
        out = torch.zeros(len(seqs), T, dtype=torch.long)  # (N, T)
        for n, s in enumerate(seqs):
            row = torch.as_tensor(np.asarray(s, dtype=np.int64)) + 1  # ids 0..V-1 -> 1..V
            if self.padding == "right":
                out[n, : len(s)] = row
            else:
                out[n, T - len(s) :] = row
        return out if self.batch_first else out.t().contiguous()  # (N, T) or (T, N)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            seqs = [self.sequences[int(i)] for i in order[start : start + self.batch_size]]
            if self.next_token:
                yield self._pad([s[:-1] for s in seqs]), self._pad([s[1:] for s in seqs])
            else:
                yield self._pad(seqs), torch.tensor([len(s) for s in seqs], dtype=torch.long)

    def __repr__(self) -> str:
        return (
            f"PaddedBatcher(sequences={len(self._usable)}, batch_size={self.batch_size}, "
            f"padding={self.padding!r}, next_token={self.next_token}, batches={len(self)})"
        )
