"""``rnnkit evaluate``: loss, perplexity and bits per character of a checkpoint on a split.

Any text of the model's level can be evaluated: it is read with the model's vocabulary,
tokens the vocabulary lacks become ``<unk>`` (and are counted), and perplexity is reported
with and without the ``<unk>`` targets. Only data of the other level is refused. Without
``--data``/``--data-dir`` the data the model was trained on is found where the run stored it
(a resolved path) and recognised by its checksum: if it changed, the command says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ..data import DataError
from ..training import progress as _progress
from ..training.checks import POSITIVE_INT
from ..training.config import TrainConfig
from ..training.fingerprint import fingerprint, same_content
from ..training.lm_data import load_lm_data
from ..training.lm_eval import describe, evaluate_split, metrics
from ..training.lm_task import LanguageModelTask
from ..training.resume import stored_config
from .config import DefaultsFormatter, checked
from .sample import load_model


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a trained model on its data (or other data)",
        formatter_class=DefaultsFormatter,
        description="Loss, perplexity and bits per character of a checkpoint on a split.",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint", required=True,
        help="a checkpoint written by `rnnkit train`: checkpoint.pt (the last) or best.pt",
    )  # fmt: skip
    p.add_argument(
        "--split", choices=("train", "valid", "test", "all"), default="test",
        help="the split to score; 'all': the whole --data file",
    )  # fmt: skip
    p.add_argument(
        "--data", default=None,
        help="a text file, read with the model's vocabulary (default: the data it was trained on)",
    )  # fmt: skip
    p.add_argument("--data-dir", default=None,
                   help="a prepared or Penn Treebank folder (default: the data it was trained on)")
    p.add_argument("--batch-size", type=checked(int, "--batch-size", POSITIVE_INT), default=None,
                   help="parallel streams (default: the run's --batch-size)")  # fmt: skip
    p.add_argument("--seq-length", type=checked(int, "--seq-length", POSITIVE_INT), default=None,
                   help="time steps per chunk (default: the run's --seq-length)")  # fmt: skip
    p.add_argument("--device", type=checked(str, "--device", device=True), default="cpu",
                   help="torch device to run the model on, e.g. cpu or cuda")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show progress bars")  # fmt: skip
    p.set_defaults(run=run)


def _check_trained_data(config: TrainConfig, ckpt: dict) -> None:
    """The data a run stored is still there and still the same (by checksum)."""
    for name, files in LanguageModelTask(config).data_files(config).items():
        known = (ckpt.get("data_files") or {}).get(name)
        if not known:
            continue
        where, flag = getattr(config, name), "--" + name.replace("_", "-")
        found = fingerprint(files, known, show=config.progress)
        if not found:
            raise DataError(f"evaluate: {where}, the data the model was trained on, is gone; "
                            f"give it (or any text) with {flag}")  # fmt: skip
        if not same_content(found, known):
            raise DataError(f"evaluate: {where} has changed since the model was trained (its "
                            f"content differs); give {flag} {where} to evaluate on it as new data")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    with _progress.status(args.progress, "loading the checkpoint"):
        model, ckpt = load_model(args.checkpoint, args.device)
    config = dataclasses.replace(stored_config(TrainConfig, ckpt["config"]), progress=args.progress)
    if args.data or args.data_dir:
        config = dataclasses.replace(config, data=args.data, data_dir=args.data_dir)
    else:
        _check_trained_data(config, ckpt)
    split = args.split
    if split == "all":
        if not args.data:
            raise DataError("evaluate: --split all scores a whole text file; give it with --data")
        config, split = dataclasses.replace(config, valid_frac=0.0, test_frac=0.0), "train"
    with _progress.status(args.progress and not args.data, "reading the data"):
        data = load_lm_data(
            config, vocab=model.vocab, cache=Path(args.checkpoint).parent / "corpus",
            write_cache=False, progress=args.progress, command="evaluate",
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
        args.device, model.vocab.unk_index, progress=args.progress, desc=f"{args.split} split",
    )  # fmt: skip
    m = metrics(result, model.vocab.level)
    if args.json:
        print(json.dumps({"split": args.split, **m, "oov_tokens": unknown}))
    else:
        print(f"{args.split}: {describe(m)}")
    return 0
