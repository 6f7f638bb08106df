"""DataError: the one exception the data package raises for a bad file or corpus.

torch-rnn's ``scripts/preprocess.py`` and the original ``dl.loadPTB`` failed with a Python
traceback or a Lua ``assert``; here every problem with input data is a ``DataError`` (a
``ValueError``) whose one-line message names the file and what is wrong with it.
"""


class DataError(ValueError):
    """A data file or corpus that cannot be used: missing, empty, binary, corrupt or too short."""
