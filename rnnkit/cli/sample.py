"""``rnnkit sample``: generate text from a checkpoint (torch-rnn's sample.lua).

``--start-text`` (or ``--start-file``) may hold anything: tokens the model's vocabulary lacks
are read as ``<unk>`` (and counted on stderr); the start text is printed as given. The draw
is :func:`rnnkit.models.sampling.sample_next` (temperature, ``--top-k``, ``--top-p``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import DataError, Vocab, tokens
from ..models import LanguageModel
from ..training.checkpoint import load_checkpoint
from ..training.checks import NONNEG_INT, POSITIVE_INT, TEMPERATURE, TOP_P
from ..training.lm_task import build_model
from ..training.loop_config import SEED
from . import UsageError
from .config import DefaultsFormatter, checked


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sample", help="sample text from a trained model", formatter_class=DefaultsFormatter,
        description="Generate text from a checkpoint: temperature, then --top-k, then --top-p "
        "filter each step's distribution, and a token is drawn from what is left.",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint", required=True,
        help="a checkpoint written by `rnnkit train`: checkpoint.pt (the last) or best.pt",
    )  # fmt: skip
    p.add_argument("--length", type=checked(int, "--length", POSITIVE_INT), default=2000,
                   help="number of tokens to generate")  # fmt: skip
    p.add_argument("--start-text", default="", help="prefix to condition on (default: none)")
    p.add_argument("--start-file", default=None,
                   help="read the prefix from this UTF-8 file, as it is (newlines included); "
                   "not with --start-text (default: none)")  # fmt: skip
    p.add_argument("--temperature", type=checked(float, "--temperature", TEMPERATURE),
                   default=1.0, help="divides the scores (0: argmax)")  # fmt: skip
    p.add_argument("--top-k", type=checked(int, "--top-k", NONNEG_INT), default=0,
                   help="draw from the K most likely tokens only (0: off)")  # fmt: skip
    p.add_argument("--top-p", type=checked(float, "--top-p", TOP_P), default=1.0,
                   help="nucleus sampling: draw from the smallest set of most likely tokens "
                   "whose probability is at least P (1.0: off)")  # fmt: skip
    p.add_argument("--num-samples", type=checked(int, "--num-samples", POSITIVE_INT), default=1,
                   help="independent samples, drawn together as the rows of one batch; "
                   "each is printed under a line '--- sample I of M ---' when M > 1")  # fmt: skip
    p.add_argument("--argmax", action="store_true",
                   help="always pick the most likely token (ignores --top-k and --top-p)")
    p.add_argument("--seed", type=checked(int, "--seed", SEED), default=None,
                   help="random seed: the same seed gives the same text (default: none, "
                   "a new text each time)")  # fmt: skip
    p.add_argument("--device", type=checked(str, "--device", device=True), default="cpu",
                   help="torch device to run the model on, e.g. cpu or cuda")  # fmt: skip
    p.set_defaults(run=run)


def load_model(path: str, device: str) -> tuple[LanguageModel, dict[str, Any]]:
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["model_config"], device)
    model.load_state_dict(ckpt["model"])
    model.vocab = Vocab.from_dict(ckpt["vocab"])
    return model.eval(), ckpt


def _prefix_ids(vocab: Vocab, start_text: str, flag: str = "--start-text") -> np.ndarray:
    """The ids the model will read for ``start_text`` (as LanguageModel.sample encodes it)."""
    units = "characters" if vocab.level == "char" else "words"
    pieces = tokens(start_text, "char") if vocab.level == "char" else start_text.split()
    try:
        ids, unknown = vocab.lookup(pieces)
    except DataError as e:
        raise DataError(
            f"sample: {flag} has {units} the checkpoint's vocabulary lacks, and it has no "
            f"<unk> (a checkpoint of an rnnkit before <unk>): {e}"
        ) from None
    if unknown:
        print(
            f"sample: {unknown} of the {len(pieces)} {units} of {flag} are not in the "
            f"checkpoint's vocabulary and were read as <unk>",
            file=sys.stderr,
        )
    return ids


def _start_text(args: argparse.Namespace) -> tuple[str, str]:
    """``(text, flag)``: the prefix and the flag it came from."""
    if args.start_file is None:
        return args.start_text, "--start-text"
    if args.start_text:
        raise UsageError("sample: give either --start-text or --start-file, not both")
    path = Path(args.start_file)
    if not path.is_file():
        raise DataError(f"sample: --start-file {path}: no such file")
    try:
        return path.read_text(encoding="utf-8"), "--start-file"
    except UnicodeDecodeError as e:
        raise DataError(f"sample: --start-file {path}: is not UTF-8 text ({e.reason} at byte "
                        f"{e.start})") from None  # fmt: skip


def run(args: argparse.Namespace) -> int:
    start_text, flag = _start_text(args)  # before loading anything
    model, _ = load_model(args.checkpoint, args.device)
    prefix = _prefix_ids(model.vocab, start_text, flag) if start_text else None
    if prefix is not None and not len(prefix):  # e.g. only spaces at word level: no prefix
        start_text, prefix = "", None
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    texts = model.sample(
        args.length, start_text=start_text or None, temperature=args.temperature,
        argmax=args.argmax, generator=generator, top_k=args.top_k, top_p=args.top_p,
        num_samples=args.num_samples,
    )  # fmt: skip
    shown = len(model.vocab.decode(prefix)) if prefix is not None else 0
    for i, text in enumerate(texts, 1):
        if args.num_samples > 1:
            print(f"--- sample {i} of {args.num_samples} ---")
        print(start_text + text[shown:] if prefix is not None else text)  # the start text as given
    return 0
