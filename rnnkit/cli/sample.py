"""``rnnkit sample``: generate text from a checkpoint (torch-rnn's sample.lua)."""

from __future__ import annotations

import torch

from ..data import Vocab
from ..training.checkpoint import load_checkpoint
from ..training.lm_trainer import build_model


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="sample text from a trained model")
    p.add_argument("--checkpoint", required=True, help="a checkpoint.pt written by `rnnkit train`")
    p.add_argument("--length", type=int, default=2000, help="number of tokens to generate")
    p.add_argument("--start-text", default="", help="prefix to condition on")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (0: argmax)")
    p.add_argument("--argmax", action="store_true", help="always pick the most likely token")
    p.add_argument("--seed", type=int, default=None, help="random seed, for reproducible samples")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)


def load_model(path: str, device: str):
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["model_config"], device)
    model.load_state_dict(ckpt["model"])
    model.vocab = Vocab.from_dict(ckpt["vocab"])
    return model.eval(), ckpt


def run(args) -> int:
    model, _ = load_model(args.checkpoint, args.device)
    if args.length < 1:
        from ..training.lm_trainer import ConfigError

        raise ConfigError(f"--length must be at least 1, got {args.length}")
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    text = model.sample(
        args.length, start_text=args.start_text or None, temperature=args.temperature,
        argmax=args.argmax, generator=generator,
    )  # fmt: skip
    print(text)
    return 0
