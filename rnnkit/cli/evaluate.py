"""``rnnkit evaluate``: loss, perplexity and bits per character of a checkpoint on a split.

Any text of the model's level can be evaluated: it is read with the model's vocabulary,
tokens the vocabulary lacks become ``<unk>`` (and are counted), and perplexity is reported
with and without the ``<unk>`` targets. Only data of the other level is refused.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from ..data import DataError
from ..training.config import TrainConfig
from ..training.lm_data import load_lm_data
from ..training.lm_trainer import ConfigError, describe, evaluate_split, metrics
from .sample import load_model


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained model on its data (or other data)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument(
        "--split", choices=("train", "valid", "test", "all"), default="test",
        help="the split to score; 'all': the whole --data file",
    )  # fmt: skip
    p.add_argument(
        "--data", default=None,
        help="a text file, read with the model's vocabulary (default: the data it was trained on)",
    )  # fmt: skip
    p.add_argument("--data-dir", default=None, help="a prepared or Penn Treebank folder")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seq-length", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    for flag, value in (("--batch-size", args.batch_size), ("--seq-length", args.seq_length)):
        if value is not None and value < 1:
            raise ConfigError(f"evaluate: {flag} must be a positive integer, got {value}")
    model, ckpt = load_model(args.checkpoint, args.device)
    config = TrainConfig(**ckpt["config"])
    if args.data or args.data_dir:
        config = dataclasses.replace(config, data=args.data, data_dir=args.data_dir)
    split = args.split
    if split == "all":
        if not args.data:
            raise DataError("evaluate: --split all scores a whole text file; give it with --data")
        config, split = dataclasses.replace(config, valid_frac=0.0, test_frac=0.0), "train"
    data = load_lm_data(
        config, vocab=model.vocab, cache=Path(args.checkpoint).parent / "corpus",
        write_cache=False, command="evaluate",
    )  # fmt: skip
    ids = data.splits[split]
    unknown = data.oov.get(split, 0)
    if unknown:
        print(
            f"evaluate: {unknown:,} of the {len(ids):,} tokens of the {args.split} split "
            f"({100 * unknown / len(ids):.2f}%) are not in the checkpoint's vocabulary and were "
            f"read as <unk>",
            file=sys.stderr,
        )
    result = evaluate_split(
        model, ids, args.batch_size or config.batch_size, args.seq_length or config.seq_length,
        args.device, model.vocab.unk_index,
    )  # fmt: skip
    m = metrics(result, model.vocab.level)
    if args.json:
        print(json.dumps({"split": args.split, **m, "oov_tokens": unknown}))
    else:
        print(f"{args.split}: {describe(m)}")
    return 0
