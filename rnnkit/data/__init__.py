"""rnnkit.data: corpora, vocabularies and BPTT batching.

Replaces torch-rnn's ``scripts/preprocess.py`` and ``util/DataLoader.lua`` and the original rnn
package's ``dl.loadPTB`` and ``dl.loadMNIST``. Token arrays are ``(L,)`` int32; batches are time-major ``(T, N)``.
"""

from .batching import BPTTBatcher
from .default_corpus import default_corpus_description, default_corpus_text
from .errors import DataError
from .mnist import load_mnist, read_idx, translate, write_idx
from .prepared import load_prepared, prepare_corpus
from .ptb import load_ptb, read_words, words_from_text
from .text import read_text, split_text
from .vocab import Vocab

__all__ = [
    "BPTTBatcher",
    "DataError",
    "Vocab",
    "default_corpus_description",
    "default_corpus_text",
    "load_mnist",
    "load_prepared",
    "load_ptb",
    "prepare_corpus",
    "read_idx",
    "read_text",
    "read_words",
    "split_text",
    "translate",
    "words_from_text",
    "write_idx",
]
