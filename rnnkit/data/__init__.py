"""rnnkit.data: corpora, vocabularies, BPTT batching and padded batches.

Replaces torch-rnn's ``scripts/preprocess.py`` and ``util/DataLoader.lua`` and the original rnn
package's ``dl.loadPTB`` and ``dl.loadMNIST``. A corpus is built from text by streaming
(:func:`build_corpus`) and read back memory-mapped (:func:`open_corpus`); token arrays are
``(L,)`` unsigned integers; batches are time-major ``(T, N)``. See ``docs/data.md``.
"""

from .arrays import token_counts
from .batching import BPTTBatcher
from .corpus import Corpus, build_corpus, open_corpus
from .default_corpus import default_corpus_description, default_corpus_text
from .errors import DataError
from .mnist import load_mnist, read_idx, translate, write_idx
from .padded import PaddedBatcher, Sentences
from .prepared import load_prepared, prepare_corpus
from .ptb import load_ptb, read_ptb, read_words, words_from_text
from .text import read_text, split_text
from .tokenizer import tokens
from .vocab import EOS, UNK, Vocab

__all__ = [
    "BPTTBatcher",
    "Corpus",
    "DataError",
    "EOS",
    "PaddedBatcher",
    "Sentences",
    "UNK",
    "Vocab",
    "build_corpus",
    "default_corpus_description",
    "default_corpus_text",
    "load_mnist",
    "load_prepared",
    "load_ptb",
    "open_corpus",
    "prepare_corpus",
    "read_idx",
    "read_ptb",
    "read_text",
    "read_words",
    "split_text",
    "token_counts",
    "tokens",
    "translate",
    "words_from_text",
    "write_idx",
]
