"""torch-rnn's character language model on Tiny Shakespeare (Karpathy's char-rnn corpus).

An LSTM over characters with torch-rnn's training recipe (Adam, gradient values clipped at
5, learning rate halved every few epochs), split 90/5/5 in file order as char-rnn did.

    python examples/char_lm.py [--data ../shared/data/tinyshakespeare/input.txt] [--time-budget 1500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_trainer import train_language_model

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--out-dir", default="runs/shakespeare")
    parser.add_argument("--rnn-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--time-budget", type=float, default=1500, help="seconds (0: none)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="replace the run in --out-dir")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    config = TrainConfig(
        data=args.data, level="char", out_dir=args.out_dir, resume=args.resume, overwrite=args.overwrite,
        progress=args.progress, model_type="lstm", wordvec_size=64, rnn_size=args.rnn_size,
        num_layers=args.num_layers, dropout=args.dropout, seq_length=100, batch_size=32,
        optimizer="adam", learning_rate=2e-3, lr_decay_start=4, lr_decay_every=2,
        lr_decay_factor=0.5, grad_clip=5.0, clip_mode="value", max_epochs=args.max_epochs,
        time_budget=args.time_budget, checkpoint_every=500, sample_length=600, temperature=0.8,
    )  # fmt: skip
    return train_language_model(config)


if __name__ == "__main__":
    main()
