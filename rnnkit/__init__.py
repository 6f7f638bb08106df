"""rnnkit: recurrent building blocks of Torch7's ``rnn`` and ``torch-rnn``, on PyTorch.

Shape legend used throughout: ``T`` time, ``N`` batch, ``D`` input features, ``H`` hidden
(output) size, ``V`` vocabulary, ``K`` noise samples. Sequences are time-major ``(T, N, *)``
unless ``batch_first=True``.

This module is the public index: every public name is re-exported here and nothing else
happens here.
"""

from .criterion.mask_zero_criterion import MaskZeroCriterion
from .criterion.repeater_criterion import RepeaterCriterion
from .criterion.sequencer_criterion import SequencerCriterion
from .layers.reverse_sequence import SeqReverseSequence
from .layers.spatial_glimpse import SpatialGlimpse
from .masking.lookup_table_mask_zero import LookupTableMaskZero
from .masking.mask_zero import MaskZero
from .masking.trim_zero import TrimZero
from .nce.criterion import NCECriterion
from .nce.module import NCEModule
from .nce.sampled_criterion import SampledSoftmaxCriterion
from .recurrent.abstract import AbstractRecurrent
from .recurrent.fast_lstm import FastLSTM
from .recurrent.gru import GRU
from .recurrent.lstm import LSTM
from .recurrent.mufuru import MuFuRu
from .recurrent.norm_stabilizer import NormStabilizer, norm_stabilizer_penalty
from .recurrent.recurrence import Recurrence
from .recurrent.recurrent import Bias, Recurrent
from .recurrent.recursor import Recursor
from .reinforce.bernoulli import ReinforceBernoulli
from .reinforce.categorical import ReinforceCategorical
from .reinforce.normal import ReinforceNormal
from .reinforce.reinforce import Reinforce
from .reinforce.vr_class_reward import VRClassReward
from .sequence.abstract import AbstractSequencer
from .sequence.bisequencer import BiSequencer
from .sequence.bisequencer_lm import BiSequencerLM
from .sequence.recurrent_attention import RecurrentAttention
from .sequence.repeater import Repeater
from .sequence.seq_brnn import SeqBRNN
from .sequence.seq_gru import SeqGRU
from .sequence.seq_lstm import SeqLSTM, SeqLSTMP
from .sequence.seq_rnn import SeqRNN, VanillaRNN
from .sequence.sequencer import Sequencer
from .sequence.streaming import Streaming
from .tables import CAddTable, JoinTable, ParallelTable, SelectTable

__version__ = "0.1.0"

__all__ = [
    "AbstractRecurrent",
    "AbstractSequencer",
    "Bias",
    "BiSequencer",
    "BiSequencerLM",
    "CAddTable",
    "FastLSTM",
    "GRU",
    "JoinTable",
    "LSTM",
    "LookupTableMaskZero",
    "MaskZero",
    "MaskZeroCriterion",
    "MuFuRu",
    "NCECriterion",
    "NCEModule",
    "SampledSoftmaxCriterion",
    "NormStabilizer",
    "ParallelTable",
    "Recurrence",
    "Recurrent",
    "RecurrentAttention",
    "Reinforce",
    "ReinforceBernoulli",
    "ReinforceCategorical",
    "ReinforceNormal",
    "Recursor",
    "Repeater",
    "RepeaterCriterion",
    "SelectTable",
    "SpatialGlimpse",
    "SeqBRNN",
    "SeqGRU",
    "SeqLSTM",
    "SeqLSTMP",
    "SeqRNN",
    "SeqReverseSequence",
    "Sequencer",
    "SequencerCriterion",
    "Streaming",
    "TrimZero",
    "VRClassReward",
    "VanillaRNN",
    "norm_stabilizer_penalty",
]
