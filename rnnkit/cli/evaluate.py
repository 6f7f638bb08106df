"""``rnnkit evaluate``: loss, perplexity and bits per character of a checkpoint on a split."""

from __future__ import annotations

import dataclasses
import json

from ..training.config import TrainConfig
from ..training.lm_data import load_lm_data
from ..training.lm_trainer import describe, evaluate_loss, metrics
from .sample import load_model


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained model on its data (or other data)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--data", default=None, help="a text file (default: the data it was trained on)")
    p.add_argument("--data-dir", default=None, help="a prepared or Penn Treebank folder")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seq-length", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    model, ckpt = load_model(args.checkpoint, args.device)
    config = TrainConfig(**ckpt["config"])
    if args.data or args.data_dir:
        config = dataclasses.replace(config, data=args.data, data_dir=args.data_dir)
    data = load_lm_data(config)
    if data.vocab != model.vocab:
        from ..training.checkpoint import CheckpointError

        raise CheckpointError("the data's vocabulary differs from the checkpoint's")
    loss = evaluate_loss(
        model, data.splits[args.split], args.batch_size or config.batch_size,
        args.seq_length or config.seq_length, args.device,
    )  # fmt: skip
    m = metrics(loss, data.vocab.level)
    print(json.dumps({"split": args.split, **m}) if args.json else f"{args.split}: {describe(m)}")
    return 0
