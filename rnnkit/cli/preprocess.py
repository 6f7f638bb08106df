"""``rnnkit preprocess``: encode a text file into a vocabulary and token arrays (torch-rnn's preprocess.py)."""

from __future__ import annotations

from ..data import prepare_corpus


def add_parser(sub) -> None:
    p = sub.add_parser("preprocess", help="encode a text file for training")
    p.add_argument("--input", required=True, help="a UTF-8 text file")
    p.add_argument("--output-dir", required=True, help="where vocab.json, train/valid/test.npy go")
    p.add_argument("--level", choices=("char", "word"), default="char")
    p.add_argument("--valid-frac", type=float, default=0.05)
    p.add_argument("--test-frac", type=float, default=0.05)
    p.set_defaults(run=run)


def run(args) -> int:
    meta = prepare_corpus(args.input, args.level, args.output_dir, args.valid_frac, args.test_frac)
    print(f"wrote {args.output_dir}: {meta}")
    return 0
