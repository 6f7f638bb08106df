"""``rnnkit preprocess``: encode a text file into a vocabulary and token arrays (torch-rnn's preprocess.py).

The text is streamed (flat memory, any size) through the same tokeniser, split rule and
vocabulary rule as ``rnnkit train --data``, so both give the same splits and vocabulary.
"""

from __future__ import annotations

import argparse

from ..data import build_corpus
from ..training.checks import FRACTION, POSITIVE_INT
from ..training.lm_data import TEXT_MIN_COUNT, check_fractions, check_vocab_options
from ..training.outdir import check_writable_dir
from .config import DefaultsFormatter, checked


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("preprocess", help="encode a text file for training",
                       formatter_class=DefaultsFormatter)  # fmt: skip
    p.add_argument("--input", required=True, help="a UTF-8 text file")
    p.add_argument("--output-dir", required=True, help="where vocab.json, train/valid/test.npy go")
    p.add_argument("--level", choices=("char", "word"), default="char",
                   help="tokens: characters, or words (lines end with <eos>)")
    p.add_argument("--valid-frac", type=checked(float, "--valid-frac", FRACTION), default=0.05,
                   help="fraction of the text held out for validation")
    p.add_argument("--test-frac", type=checked(float, "--test-frac", FRACTION), default=0.05,
                   help="fraction of the text held out for testing")
    p.add_argument(
        "--min-count", type=checked(int, "--min-count", POSITIVE_INT), default=TEXT_MIN_COUNT,
        help="tokens seen fewer times in the training split are read as <unk> (default: 2)",
    )  # fmt: skip
    p.add_argument(
        "--max-vocab", type=checked(int, "--max-vocab", POSITIVE_INT), default=None,
        help="keep at most this many types, <unk> and <eos> included (default: no limit)",
    )  # fmt: skip
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True,
        help="show a progress bar per pass",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = "preprocess"
    check_writable_dir(command, "--output-dir", args.output_dir)
    check_vocab_options(command, args.level, args.min_count, args.max_vocab)
    check_fractions(command, args.valid_frac, args.test_frac)
    corpus = build_corpus(
        args.input, args.level, args.output_dir, valid_frac=args.valid_frac,
        test_frac=args.test_frac, min_count=args.min_count, max_vocab=args.max_vocab,
        is_path=True, progress=args.progress, command=command,
    )  # fmt: skip
    m = corpus.meta
    n = m["counts"]
    print(
        f"wrote {args.output_dir}: {m['level']} level, {m['vocab_size']:,} types "
        f"({m['dtype']}); train {n['train']:,}, valid {n['valid']:,}, test {n['test']:,} tokens; "
        f"<unk> (unseen or below --min-count): {m['oov_tokens']['train']:,} training, "
        f"{m['oov_tokens']['valid']:,} validation, {m['oov_tokens']['test']:,} test tokens"
    )
    return 0
