"""Zaremba et al. 2014's small PTB word model ("Recurrent Neural Network Regularization").

2 × 200 LSTM, no dropout, BPTT 20, batch 20, SGD with learning rate 1 halved after every
epoch from epoch 4 on, gradient norm clipped at 5, parameters uniform in ±0.1, 13 epochs.
The paper reports a test perplexity of 114.5 (validation 120.7).

Zaremba's loss is the sum over the 20 time steps of the batch-mean cross-entropy (the
original package's ``SequencerCriterion`` default); ``rnnkit train`` minimises the mean over
time and batch, whose gradient is 20× smaller. Learning rate 20 and a norm clip of
5 / 20 = 0.25 on the mean loss give exactly Zaremba's updates (``lr · clip(g_sum, 5)`` with
``g_sum = 20 · g_mean``), as PyTorch's word-language-model example does.

    python examples/ptb_word_lm.py [--data-dir ../shared/data/ptb] [--out-dir runs/ptb_small]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.training.config import TrainConfig
from rnnkit.training.lm_trainer import train_language_model

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--out-dir", default="runs/ptb_small")
    parser.add_argument("--max-epochs", type=int, default=13)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="replace the run in --out-dir")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    config = TrainConfig(
        data_dir=args.data_dir, out_dir=args.out_dir, resume=args.resume, overwrite=args.overwrite, progress=args.progress,
        model_type="lstm", wordvec_size=200, rnn_size=200, num_layers=2, dropout=0.0,
        init_range=0.1, seq_length=20, batch_size=20, eval_batch_size=1,
        optimizer="sgd", learning_rate=20.0, lr_decay_start=4, lr_decay_every=1,
        lr_decay_factor=0.5, grad_clip=0.25, clip_mode="norm", max_epochs=args.max_epochs,
        time_budget=0, checkpoint_every=500, sample_length=60, temperature=1.0,
    )  # fmt: skip
    return train_language_model(config)


if __name__ == "__main__":
    main()
