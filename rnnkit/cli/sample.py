"""``rnnkit sample``: generate text from a checkpoint (torch-rnn's sample.lua).

``--start-text`` may hold anything: tokens the model's vocabulary lacks are read as
``<unk>`` (and counted on stderr); the start text is printed as given.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import torch

from ..data import DataError, Vocab, tokens
from ..models import LanguageModel
from ..training.checkpoint import load_checkpoint
from ..training.checks import POSITIVE_INT, TEMPERATURE
from ..training.lm_task import build_model
from ..training.loop_config import SEED
from .config import checked


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sample", help="sample text from a trained model")
    p.add_argument(
        "--checkpoint", required=True,
        help="a checkpoint written by `rnnkit train`: checkpoint.pt (the last) or best.pt",
    )  # fmt: skip
    p.add_argument("--length", type=checked(int, "--length", POSITIVE_INT), default=2000,
                   help="number of tokens to generate")  # fmt: skip
    p.add_argument("--start-text", default="", help="prefix to condition on")
    p.add_argument("--temperature", type=checked(float, "--temperature", TEMPERATURE),
                   default=1.0, help="softmax temperature (0: argmax)")  # fmt: skip
    p.add_argument("--argmax", action="store_true", help="always pick the most likely token")
    p.add_argument("--seed", type=checked(int, "--seed", SEED), default=None,
                   help="random seed, for reproducible samples")  # fmt: skip
    p.add_argument("--device", type=checked(str, "--device", device=True), default="cpu")
    p.set_defaults(run=run)


def load_model(path: str, device: str) -> tuple[LanguageModel, dict[str, Any]]:
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["model_config"], device)
    model.load_state_dict(ckpt["model"])
    model.vocab = Vocab.from_dict(ckpt["vocab"])
    return model.eval(), ckpt


def _prefix_ids(vocab: Vocab, start_text: str) -> np.ndarray:
    """The ids the model will read for ``start_text`` (as LanguageModel.sample encodes it)."""
    units = "characters" if vocab.level == "char" else "words"
    pieces = tokens(start_text, "char") if vocab.level == "char" else start_text.split()
    try:
        ids, unknown = vocab.lookup(pieces)
    except DataError as e:
        raise DataError(
            f"sample: --start-text has {units} the checkpoint's vocabulary lacks, and it has no "
            f"<unk> (a checkpoint of an rnnkit before <unk>): {e}"
        ) from None
    if unknown:
        print(
            f"sample: {unknown} of the {len(pieces)} {units} of --start-text are not in the "
            f"checkpoint's vocabulary and were read as <unk>",
            file=sys.stderr,
        )
    return ids


def run(args: argparse.Namespace) -> int:
    model, _ = load_model(args.checkpoint, args.device)
    start_text = args.start_text or None
    prefix = _prefix_ids(model.vocab, start_text) if start_text else None
    if prefix is not None and not len(prefix):  # e.g. only spaces at word level: no prefix
        start_text = prefix = None
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    text = model.sample(
        args.length, start_text=start_text, temperature=args.temperature,
        argmax=args.argmax, generator=generator,
    )  # fmt: skip
    if prefix is not None:  # show the start text as given, not as <unk>s
        text = start_text + text[len(model.vocab.decode(prefix)) :]
    print(text)
    return 0
