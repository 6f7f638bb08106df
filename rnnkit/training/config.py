"""Typed configuration of language-model training, resolved once and stored in checkpoints.

The defaults are torch-rnn's ``train.lua`` defaults, except the learning-rate schedule,
which also expresses Zaremba et al.'s (``--lr-decay-start 4 --lr-decay-every 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _opt(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    data: str | None = _opt(
        None,
        "a text file to train on (default: the embedded corpus, the Python standard library's source)",
    )
    data_dir: str | None = _opt(
        None,
        "a folder prepared by `rnnkit preprocess`, or a Penn Treebank folder (ptb.train.txt …)",
    )
    level: str = _opt(
        "char",
        "tokens of --data: characters or words (lines end with <eos>)",
        choices=("char", "word"),
    )
    min_count: int | None = _opt(
        None,
        "tokens seen fewer times in the training split are read as <unk>, in training too "
        "(default: 2 for --data and the embedded corpus, 1 for Penn Treebank, which has its "
        "own <unk>; a --data-dir from preprocess keeps its own)",
    )
    max_vocab: int | None = _opt(
        None, "keep at most this many types, <unk> and <eos> included (default: no limit)"
    )
    model_type: str = _opt("lstm", "recurrent layer type", choices=("lstm", "gru", "rnn"))
    wordvec_size: int = _opt(64, "embedding size")
    rnn_size: int = _opt(128, "hidden size of every recurrent layer")
    num_layers: int = _opt(2, "number of recurrent layers")
    dropout: float = _opt(0.0, "dropout after the embedding and every recurrent layer")
    nce_k: int = _opt(
        0,
        "if > 0, train the output layer by noise-contrastive estimation with this many noise "
        "words (validation, test and sampling use the full softmax)",
    )
    nce_alpha: float = _opt(0.75, "NCE noise distribution: training unigram counts ** this")
    init_range: float = _opt(
        0.0, "if > 0, initialise every parameter uniformly in ±init_range (Zaremba: 0.1)"
    )
    seq_length: int = _opt(50, "BPTT length: time steps per training chunk")
    batch_size: int = _opt(50, "number of parallel streams")
    optimizer: str = _opt("adam", "optimiser", choices=("adam", "sgd"))
    learning_rate: float = _opt(2e-3, "initial learning rate")
    lr_decay_start: int = _opt(5, "first epoch after which the learning rate decays")
    lr_decay_every: int = _opt(5, "decay the learning rate every this many epochs from then on")
    lr_decay_factor: float = _opt(0.5, "multiply the learning rate by this at each decay")
    grad_clip: float = _opt(5.0, "gradient clipping threshold (0: none)")
    clip_mode: str = _opt(
        "value",
        "clip each gradient value (torch-rnn) or the global norm (Zaremba)",
        choices=("value", "norm"),
    )
    eval_batch_size: int | None = _opt(
        None, "streams used for validation/test (default: --batch-size; Zaremba et al. test with 1)"
    )
    max_epochs: int = _opt(50, "number of epochs")
    time_budget: float | None = _opt(
        None,
        "stop (with a checkpoint) after this many seconds; default: 180 on the embedded corpus, none otherwise",
    )
    checkpoint_every: int = _opt(
        1000, "also write a checkpoint every this many iterations (0: only at epoch ends)"
    )
    out_dir: str = _opt("runs/lm", "where checkpoint.pt, log.json and loss.png go")
    resume: bool = _opt(False, "continue exactly from out_dir/checkpoint.pt")
    device: str = _opt("cpu", "torch device, e.g. cpu or cuda")
    seed: int = _opt(0, "random seed")
    valid_frac: float = _opt(0.05, "fraction of --data held out for validation")
    test_frac: float = _opt(0.05, "fraction of --data held out for testing")
    max_corpus_bytes: int = _opt(2_000_000, "size of the embedded corpus, in characters")
    sample_length: int = _opt(400, "length of the sample printed at the end (0: none)")
    temperature: float = _opt(0.8, "sampling temperature of that sample")
    progress: bool = _opt(True, "show a progress bar")

    def model_config_keys(self) -> tuple[str, ...]:
        return ("model_type", "wordvec_size", "rnn_size", "num_layers", "dropout", "nce_k",
                "nce_alpha")  # fmt: skip
