"""Ready-made models built from rnnkit's layers."""

from .language_model import LanguageModel

__all__ = ["LanguageModel"]
