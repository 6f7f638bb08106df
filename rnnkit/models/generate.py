"""Streaming generation from a :class:`~rnnkit.models.language_model.LanguageModel`.

The prefix runs once through the model, then each drawn token is fed back, one step at a
time: memory does not grow with the length. ``M`` samples are the ``M`` columns of one
batch, so they cost one forward step per token together. The draw itself is
:func:`rnnkit.models.sampling.sample_next` (temperature, top-k, top-p).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .. import _nest
from .._checks import expect_float, expect_positive_int
from .sampling import check_filters, sample_next

if TYPE_CHECKING:  # generate() is called by LanguageModel.sample: no import at run time
    from .language_model import LanguageModel


def _encode(name: str, start_text: str, vocab: Any) -> list[int]:
    if vocab is None:
        raise ValueError(f"{name}: start_text needs a vocab to encode it")
    if vocab.level == "char":
        return vocab.encode_text(start_text)
    return vocab.encode_words(start_text.split())


@torch.no_grad()
def generate(
    model: LanguageModel,
    n: int,
    start_text: str | None = None,
    temperature: float = 1.0,
    argmax: bool = False,
    vocab: Any = None,
    generator: torch.Generator | None = None,
    top_k: int = 0,
    top_p: float = 1.0,
    num_samples: int | None = None,
) -> Any:
    """What :meth:`LanguageModel.sample` returns (see there); ``model``'s mode and state kept."""
    name = f"{type(model).__name__}.sample"
    expect_positive_int(name, n, "n")
    temperature = expect_float(name, temperature, "temperature", 0.0)
    greedy = bool(argmax) or temperature <= 0
    # checked now, not after the prefix has run (and also when greedy ignores them)
    check_filters(name, temperature if not greedy else 1.0, top_k, top_p)
    M = 1 if num_samples is None else expect_positive_int(name, num_samples, "num_samples")
    vocab = vocab if vocab is not None else getattr(model, "vocab", None)
    device = model.embedding.weight.device
    if start_text:  # encode first: a bad prefix must leave the model as it was
        ids = _encode(name, start_text, vocab)
        prefix = torch.as_tensor(ids, dtype=torch.long).view(-1, 1).expand(-1, M)  # (P, M)
    else:  # a random first token per sample, not part of the output
        prefix = torch.randint(model.vocab_size, (1, M), generator=generator)  # (1, M)
    # Restored detached: a state given back with set_state would otherwise keep its graph.
    was_training, saved = model.training, _nest.detach(model.get_state())
    model.eval()
    model.forget()
    try:
        scores = model(prefix.to(device))[-1]  # (M, V)
        sampled = []
        for _ in range(n):
            if greedy:
                token = scores.argmax(1).cpu()  # (M,)
            else:
                token = sample_next(scores, temperature, top_k, top_p, generator=generator,
                                    name=name)  # fmt: skip
            sampled.append(token)
            scores = model(token.view(1, M).to(device))[-1]  # (M, V)
    finally:
        model.train(was_training)
        model.set_state(saved)
    rows = torch.stack(sampled, 1).tolist()  # (M, n)
    if start_text:
        head = prefix[:, 0].tolist()
        rows = [head + row for row in rows]
    out = [vocab.decode(row) for row in rows] if vocab is not None else rows
    return out[0] if num_samples is None else out
