"""rnnkit: recurrent building blocks of Torch7's ``rnn`` and ``torch-rnn``, on PyTorch.

Shape legend used throughout: ``T`` time, ``N`` batch, ``D`` input features, ``H`` hidden
(output) size, ``V`` vocabulary, ``K`` noise samples. Sequences are time-major ``(T, N, *)``
unless ``batch_first=True``.

This module is the public index: every public name is re-exported here and nothing else
happens here.
"""

from .criterion.repeater_criterion import RepeaterCriterion
from .criterion.sequencer_criterion import SequencerCriterion
from .layers.table import CAddTable, JoinTable, ParallelTable, SelectTable
from .recurrent.abstract import AbstractRecurrent
from .recurrent.fast_lstm import FastLSTM
from .recurrent.gru import GRU
from .recurrent.lstm import LSTM
from .recurrent.mufuru import MuFuRu
from .recurrent.norm_stabilizer import NormStabilizer, norm_stabilizer_penalty
from .recurrent.recurrence import Recurrence
from .recurrent.recurrent import Bias, Recurrent
from .recurrent.recursor import Recursor
from .sequence.abstract import AbstractSequencer
from .sequence.repeater import Repeater
from .sequence.sequencer import Sequencer

__version__ = "0.1.0"

__all__ = [
    "AbstractRecurrent",
    "AbstractSequencer",
    "Bias",
    "CAddTable",
    "FastLSTM",
    "GRU",
    "JoinTable",
    "LSTM",
    "MuFuRu",
    "NormStabilizer",
    "ParallelTable",
    "Recurrence",
    "Recurrent",
    "Recursor",
    "Repeater",
    "RepeaterCriterion",
    "SelectTable",
    "Sequencer",
    "SequencerCriterion",
    "norm_stabilizer_penalty",
]
