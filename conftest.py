"""Root pytest configuration: names available to every doctest (modules, docs, README)."""

import pytest
import torch
from torch import nn

import rnnkit

# The suite runs many tiny ops: one thread avoids oversubscribing CI's 2 cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update({"torch": torch, "nn": nn, "rnnkit": rnnkit})
    doctest_namespace.update({name: getattr(rnnkit, name) for name in rnnkit.__all__})
    torch.manual_seed(0)
