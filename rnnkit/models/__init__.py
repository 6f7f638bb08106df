"""Ready-made models built from rnnkit's layers."""

from .language_model import LanguageModel
from .recurrent_attention_model import RecurrentAttentionModel

__all__ = ["LanguageModel", "RecurrentAttentionModel"]
