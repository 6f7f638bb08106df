"""Typed configuration of language-model training, resolved once and stored in checkpoints.

The defaults are torch-rnn's ``train.lua`` defaults, except the learning-rate schedule,
which also expresses Zaremba et al.'s (``--lr-decay-start 4 --lr-decay-every 1``). The
options every task shares (optimiser, schedule, stopping, checkpoints, logs) come from
:class:`~rnnkit.training.loop_config.LoopConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.output_layer import OUTPUTS
from .checks import FRACTION, NONNEG, NONNEG_INT, POSITIVE_INT, TEMPERATURE
from .loop_config import LoopConfig, _opt

DEFAULT_NOISE_K = 500  # noise shared per batch: k in the hundreds costs little (docs/nce.md)

__all__ = ["TrainConfig", "_opt"]


@dataclass
class TrainConfig(LoopConfig):
    data: str | None = _opt(
        None,
        "a text file to train on (default: the embedded corpus, the Python standard library's source)",
        resume="data",
    )
    data_dir: str | None = _opt(
        None,
        "a folder prepared by `rnnkit preprocess`, or a Penn Treebank folder (ptb.train.txt …) "
        "(default: none, see --data)",
        resume="data",
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
        check=POSITIVE_INT,
    )
    max_vocab: int | None = _opt(
        None, "keep at most this many types, <unk> and <eos> included (default: no limit)"
    )
    model_type: str = _opt("lstm", "recurrent layer type", choices=("lstm", "gru", "rnn"))
    wordvec_size: int = _opt(64, "embedding size", check=POSITIVE_INT)
    rnn_size: int = _opt(128, "hidden size of every recurrent layer", check=POSITIVE_INT)
    num_layers: int = _opt(2, "number of recurrent layers", check=POSITIVE_INT)
    dropout: float = _opt(
        0.0, "dropout after the embedding and every recurrent layer", check=FRACTION
    )
    output: str = _opt(
        "softmax",
        "output layer: the full softmax, NCE, sampled softmax (both with --nce-k noise words "
        "from the training unigrams ** --nce-alpha) or the adaptive softmax (cut-offs from the "
        "training counts); validation, test and sampling always use the exact distribution",
        choices=OUTPUTS,
    )
    nce_k: int = _opt(
        0,
        "noise words per step of --output nce/sampled (0: the default, "
        f"{DEFAULT_NOISE_K}); > 0 with --output softmax means --output nce",
        check=NONNEG_INT,
    )
    sparse: bool | None = _opt(
        None,
        "sparse gradients for the embedding and the NCE/sampled output rows (SGD as it is, "
        "Adam becomes SparseAdam on those: lazy Adam); default: on for nce/sampled",
    )
    tie_weights: bool = _opt(
        False,
        "one weight for the embedding and the output layer (Press & Wolf 2017): V*H fewer "
        "parameters; needs --wordvec-size equal to --rnn-size and --output softmax, nce or "
        "sampled",
    )
    nce_alpha: float = _opt(
        0.75, "NCE noise distribution: training unigram counts ** this", check=NONNEG
    )
    init_range: float = _opt(
        0.0, "if > 0, initialise every parameter uniformly in ±init_range (Zaremba: 0.1)",
        check=NONNEG,
    )  # fmt: skip
    seq_length: int = _opt(50, "BPTT length: time steps per training chunk", check=POSITIVE_INT)
    batch_size: int = _opt(50, "number of parallel streams", check=POSITIVE_INT)
    lr_decay_start: int = _opt(
        5, "step schedule: first epoch after which the learning rate decays",
        check=POSITIVE_INT, resume="applies",
    )  # fmt: skip
    lr_decay_every: int = _opt(
        5, "step schedule: decay the learning rate every this many epochs from then on",
        check=POSITIVE_INT, resume="applies",
    )  # fmt: skip
    grad_clip: float = _opt(
        5.0, "gradient clipping threshold (0: none)", check=NONNEG, resume="applies"
    )
    clip_mode: str = _opt(
        "value",
        "clip each gradient value (torch-rnn) or the global norm (Zaremba)",
        choices=("value", "norm"), resume="applies",
    )  # fmt: skip
    eval_batch_size: int | None = _opt(
        None, "streams used for validation/test (default: --batch-size; Zaremba et al. test with 1)",
        check=POSITIVE_INT, resume="applies",
    )  # fmt: skip
    time_budget: float | None = _opt(
        None,
        "stop (with a checkpoint) after this many seconds of training in this invocation; "
        "default: 180 on the embedded corpus, none otherwise (0: none)",
        check=NONNEG, resume="applies",
    )  # fmt: skip
    valid_frac: float = _opt(0.05, "fraction of --data held out for validation", check=FRACTION)
    test_frac: float = _opt(0.05, "fraction of --data held out for testing", check=FRACTION)
    max_corpus_bytes: int = _opt(
        2_000_000, "size of the embedded corpus, in characters", check=POSITIVE_INT
    )
    sample_length: int = _opt(
        400, "length of the sample printed at the end (0: none)", check=NONNEG_INT,
        resume="applies",
    )  # fmt: skip
    temperature: float = _opt(
        0.8, "sampling temperature of that sample (0: the most likely token)", check=TEMPERATURE,
        resume="applies",
    )  # fmt: skip

    precision: str = _opt(
        "fp32",
        "training forward pass in fp32, or under bf16 autocast (CPU and CUDA; the loss, the "
        "weights, the optimiser, validation and the checkpoints stay fp32)",
        choices=("fp32", "bf16"), resume="applies",
    )  # fmt: skip
    compile: bool = _opt(
        False,
        "torch.compile the model for the training steps (the first steps are slow while it "
        "compiles; validation, test and sampling run the model as it is; checkpoints are the "
        "same either way)",
        resume="applies",
    )

    def model_config_keys(self) -> tuple[str, ...]:
        return ("model_type", "wordvec_size", "rnn_size", "num_layers", "dropout", "nce_alpha",
                "tie_weights")  # fmt: skip

    def resolved_output(self) -> tuple[str, int, bool]:
        """``(output, noise words, sparse)`` after the ``--nce-k`` alias and the defaults."""
        output = "nce" if self.output == "softmax" and self.nce_k else self.output
        sampled = output in ("nce", "sampled")
        k = (self.nce_k or DEFAULT_NOISE_K) if sampled else 0
        return output, k, sampled if self.sparse is None else bool(self.sparse)

    def clipping(self) -> tuple[str, float]:
        return self.clip_mode, self.grad_clip
