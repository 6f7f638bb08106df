"""LanguageModel: embedding → stacked recurrent layers → linear decoder.

torch-rnn's ``LanguageModel`` (Johnson) and the word model of Zaremba et al. 2014
("Recurrent Neural Network Regularization"), on rnnkit's fused sequence layers. The layers
carry their state from one call to the next (``remember('both')``), so a training loop over
contiguous BPTT chunks does truncated backpropagation through time, and ``sample`` streams
one token at a time with constant memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from .._checks import (
    expect_float,
    expect_int,
    expect_integer,
    expect_positive_int,
    expect_tensor,
    named_errors,
)
from ..sequence.seq_gru import SeqGRU
from ..sequence.seq_lstm import SeqLSTM
from ..sequence.seq_rnn import SeqRNN
from .generate import generate
from .output_layer import OUTPUTS, build_output_layer

if TYPE_CHECKING:
    from ..data.vocab import Vocab

LAYER_TYPES = {"lstm": SeqLSTM, "gru": SeqGRU, "rnn": SeqRNN}


class LanguageModel(nn.Module):
    """Recurrent language model over a vocabulary of ``V`` tokens.

    Args:
        vocab_size: ``V``.
        model_type: ``'lstm'``, ``'gru'`` or ``'rnn'`` (tanh).
        wordvec_size: embedding size. rnn_size: ``H`` of every layer. num_layers: depth.
        dropout: dropout after the embedding and after every recurrent layer (Zaremba et al.).
        nce_k: noise words per row of an ``'nce'`` or ``'sampled'`` output layer (an
            :class:`~rnnkit.nce.module.NCEModule`, ``Z = 1``); with ``output=None``, > 0
            means ``'nce'``. nce_alpha: its ``alpha``.
        output: ``'softmax'``, ``'nce'``, ``'sampled'`` or ``'adaptive'``
            (:mod:`rnnkit.models.output_layer`); call :meth:`set_unigrams` with the
            training counts for the last three. adaptive_cutoffs: the adaptive softmax's
            cluster ends (default: from uniform counts; pass :func:`~rnnkit.models.output_layer.adaptive_cutoffs` of
            the training counts). sparse: the embedding (and an NCE/sampled output layer)
            get sparse gradients, only the rows used in the step (see
            :meth:`sparse_parameters`).
        tie_weights: the embedding and the output layer share one ``(V, H)`` weight (Press &
            Wolf 2017; pytorch/examples' ``--tied``): ``V·H`` fewer parameters. Needs
            ``wordvec_size == rnn_size`` and an output layer with a ``(V, H)`` weight:
            ``'softmax'``, ``'nce'`` or ``'sampled'`` (not ``'adaptive'``). The shared weight
            starts as the output layer's (uniform in ``±1/sqrt(H)``).

    Shape:
        ``tokens (T, N)`` (``torch.long``) → logits ``(T, N, V)`` (log-probabilities for
        the other outputs); ``(tokens, targets (T, N))`` → ``NCEOutput`` (``'nce'``,
        ``'sampled'``) or the mean negative log-likelihood (``'adaptive'``).

    State:
        each layer remembers its final state into the next call (detached); ``forget()``
        resets it (at epoch boundaries, between unrelated texts).

    Example:
        >>> lm = LanguageModel(50, wordvec_size=8, rnn_size=16, num_layers=2)
        >>> lm(torch.randint(50, (7, 3))).shape
        torch.Size([7, 3, 50])
    """

    vocab: Vocab  # set by whoever knows the vocabulary (a checkpoint, the trainer); not a default

    def __init__(
        self,
        vocab_size: int,
        model_type: str = "lstm",
        wordvec_size: int = 64,
        rnn_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.0,
        nce_k: int = 0,
        nce_alpha: float = 0.75,
        output: str | None = None,
        adaptive_cutoffs: list[int] | None = None,
        sparse: bool = False,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if model_type not in LAYER_TYPES:
            raise ValueError(
                f"{name}: expected model_type to be one of {sorted(LAYER_TYPES)}, got {model_type!r}"
            )
        dropout = expect_float(name, dropout, "dropout", 0.0, 1.0, high_open=True)
        self.vocab_size = expect_positive_int(name, vocab_size, "vocab_size")
        self.model_type = model_type
        self.wordvec_size = expect_positive_int(name, wordvec_size, "wordvec_size")
        self.rnn_size = expect_positive_int(name, rnn_size, "rnn_size")
        self.num_layers = expect_positive_int(name, num_layers, "num_layers")
        self.dropout = float(dropout)
        self.sparse = bool(sparse)
        self.embedding = nn.Embedding(self.vocab_size, self.wordvec_size, sparse=self.sparse)
        layer = LAYER_TYPES[model_type]
        sizes = [self.wordvec_size] + [self.rnn_size] * self.num_layers
        layers = [layer(sizes[i], sizes[i + 1]) for i in range(self.num_layers)]
        for rnn in layers:
            rnn.remember("both")
        # SeqLSTM, SeqGRU or SeqRNN layers (Any: nn.ModuleList yields plain Modules)
        self.rnns: Any = nn.ModuleList(layers)
        self.drop = nn.Dropout(self.dropout)
        self.nce_k = expect_int(name, nce_k, "nce_k", 0)
        self.nce_alpha = expect_float(name, nce_alpha, "nce_alpha", 0.0)
        self.output = output if output is not None else ("nce" if self.nce_k else "softmax")
        if self.output not in OUTPUTS:
            raise ValueError(f"{name}: expected output to be one of {OUTPUTS}, got {output!r}")
        if self.output in ("nce", "sampled") and not self.nce_k:
            raise ValueError(
                f"{name}: expected nce_k > 0 noise words for output {self.output!r}, got 0"
            )
        self.adaptive_cutoffs = list(adaptive_cutoffs) if adaptive_cutoffs else None
        # nn.Linear, NCEModule or AdaptiveOutput, told apart by ``self.output``
        self.decoder: Any = build_output_layer(
            self.output, self.rnn_size, self.vocab_size, self.nce_k, self.nce_alpha,
            self.adaptive_cutoffs, self.sparse,
        )  # fmt: skip
        self.tie_weights = bool(tie_weights)
        if self.tie_weights:
            _check_tie(name, self)
            self.embedding.weight = cast(nn.Parameter, self.decoder.weight)  # one, two modules

    @property
    def sampled_output(self) -> bool:
        """Whether training calls take targets and score sampled words (``'nce'``, ``'sampled'``)."""
        return self.output in ("nce", "sampled")

    def set_unigrams(self, counts: torch.Tensor | np.ndarray | Sequence[float]) -> None:
        """Training counts ``(V,)``: NCE/sampled noise table and bias ``log`` unigram; adaptive order."""
        with named_errors(f"{type(self).__name__}.set_unigrams"):
            if self.sampled_output:
                self.decoder.set_unigrams(counts)
                self.decoder.init_bias_from_unigrams(counts)
            elif self.output == "adaptive":
                self.decoder.set_unigrams(counts)

    def sparse_parameters(self) -> list[nn.Parameter]:
        """The parameters whose gradients are sparse (empty unless ``sparse=True``)."""
        if not self.sparse:
            return []
        extra = [self.decoder.weight, self.decoder.bias] if self.sampled_output else []
        return list({id(p): p for p in [self.embedding.weight, *extra]}.values())  # tied: once

    def config(self) -> dict:
        """The constructor arguments (stored in checkpoints to rebuild the model)."""
        return {
            "vocab_size": self.vocab_size,
            "model_type": self.model_type,
            "wordvec_size": self.wordvec_size,
            "rnn_size": self.rnn_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "nce_k": self.nce_k,
            "nce_alpha": self.nce_alpha,
            "output": self.output,
            "adaptive_cutoffs": self.adaptive_cutoffs,
            "sparse": self.sparse,
            "tie_weights": self.tie_weights,
        }

    def forget(self) -> None:
        """Reset every layer's carried state to zeros (at epoch boundaries, between texts)."""
        for rnn in self.rnns:
            rnn.forget()

    def get_state(self) -> tuple:
        """The state each layer starts its next call from: one ``(h, c)`` / ``h`` / ``None`` per layer."""
        return tuple(rnn.get_state() for rnn in self.rnns)

    def state_spec(self) -> tuple:
        """The form of :meth:`get_state`: one layer's spec per layer."""
        return tuple(rnn.state_spec() for rnn in self.rnns)

    def set_state(self, state: tuple | list | None) -> None:
        """Replace every layer's state (what :meth:`get_state` returned; ``None``: zeros)."""
        name = type(self).__name__
        if state is None:
            state = (None,) * self.num_layers
        if not isinstance(state, (tuple, list)) or len(state) != self.num_layers:
            got = (
                f"a {type(state).__name__} of {len(state)}"
                if isinstance(state, (tuple, list))
                else type(state).__name__
            )
            raise TypeError(
                f"{name}: expected a tuple of {self.num_layers} states (one per layer), got {got}"
            )
        with named_errors(name):
            for rnn, s in zip(self.rnns, state):
                rnn.set_state(None if s is None else tuple(s) if isinstance(s, list) else s)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``(T, N, V)`` of the next token: logits, or (other outputs than the
        softmax) the exact log-probabilities. With ``targets (T, N)``: the
        :class:`~rnnkit.nce.module.NCEOutput` (``'nce'``, ``'sampled'``) or the adaptive
        softmax's mean negative log-likelihood (``'adaptive'``).
        """
        name = type(self).__name__
        expect_tensor(name, tokens)
        expect_integer(name, tokens)
        if tokens.dim() != 2:
            raise ValueError(f"{name}: expected tokens of shape (T, N), got {tuple(tokens.shape)}")
        if targets is not None and self.output == "softmax":
            raise ValueError(
                f"{name}: targets are only taken by a model with an 'nce', 'sampled' or "
                "'adaptive' output layer, got output 'softmax'"
            )
        _expect_token_ids(name, tokens, self.vocab_size, "tokens")
        if targets is not None:
            expect_tensor(name, targets, "targets")
            expect_integer(name, targets, "targets")
            if targets.shape != tokens.shape:
                raise ValueError(
                    f"{name}: expected targets of shape {tuple(tokens.shape)} (as tokens), "
                    f"got {tuple(targets.shape)}"
                )
            _expect_token_ids(name, targets, self.vocab_size, "targets")
        h = self.features(tokens)  # (T, N, H)
        with named_errors(name):
            return self.decoder(h) if targets is None else self.decoder(h, targets)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last recurrent layer's output ``(T, N, H)``, what the output layer reads."""
        h = self.drop(self.embedding(tokens))  # (T, N, wordvec_size)
        with named_errors(type(self).__name__):
            for rnn in self.rnns:
                h = self.drop(rnn(h))  # (T, N, H)
        return h

    def sample(
        self,
        n: int,
        start_text: str | None = None,
        temperature: float = 1.0,
        argmax: bool = False,
        vocab: Any = None,
        generator: torch.Generator | None = None,
        *,
        top_k: int = 0,
        top_p: float = 1.0,
        num_samples: int | None = None,
    ) -> Any:
        """Generate ``n`` tokens, streaming one step at a time (constant memory).

        The prefix ``start_text`` is encoded with ``vocab`` (a :class:`rnnkit.data.Vocab`, or
        ``self.vocab`` when set) and run once through the model; then each sampled token is
        fed back. ``temperature`` divides the scores, ``top_k`` (0: off) and ``top_p``
        (nucleus, 1.0: off) filter them (:func:`rnnkit.models.sampling.filtered_probs`);
        ``argmax=True`` (or a temperature of 0) picks the most likely token. Returns the
        decoded text (prefix included) when a vocabulary is known, else the list of sampled
        ids; with ``num_samples=M``, a list of ``M`` such samples, drawn together as the
        ``M`` rows of one batch. The model's training mode and carried state are restored.
        """
        return generate(self, n, start_text, temperature, argmax, vocab, generator,
                        top_k=top_k, top_p=top_p, num_samples=num_samples)  # fmt: skip


@torch.compiler.disable  # data-dependent: a clean graph break, not dynamo's .item() warnings
def _expect_token_ids(module: str, ids: torch.Tensor, vocab_size: int, what: str) -> None:
    if torch.compiler.is_exporting():
        return  # an exported graph cannot raise on values; eager and compiled runs check
    if ids.numel() and not bool(((ids >= 0) & (ids < vocab_size)).all()):
        raise ValueError(
            f"{module}: expected {what} in [0, {vocab_size - 1}] (the vocabulary), got values "
            f"in [{int(ids.min())}, {int(ids.max())}]"
        )


def _check_tie(name: str, model: LanguageModel) -> None:
    """Tied weights need one ``(V, H)`` matrix that both the embedding and the output use."""
    if model.wordvec_size != model.rnn_size:
        raise ValueError(
            f"{name}: tie_weights needs wordvec_size == rnn_size (one (V, H) weight), got "
            f"wordvec_size {model.wordvec_size} and rnn_size {model.rnn_size}"
        )
    weight = getattr(model.decoder, "weight", None)
    if model.output == "adaptive" or weight is None or weight.shape != model.embedding.weight.shape:
        raise ValueError(
            f"{name}: tie_weights needs an output layer with a (V, H) weight (softmax, nce or "
            f"sampled), got output {model.output!r}"
        )
    if model.sparse and model.output == "softmax":
        raise ValueError(
            f"{name}: tie_weights with sparse=True needs output 'nce' or 'sampled' (the softmax "
            "gives the shared weight a dense gradient), got output 'softmax'"
        )
