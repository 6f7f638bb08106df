"""BPTTBatcher: contiguous streams, time-major chunks, every target once per epoch, resume."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import BPTTBatcher


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 7), st.integers(0, 40))
def test_streams_are_covered_exactly_once_in_order(N, T, extra):
    num = N * (T + 1) + extra
    tokens = np.arange(1000, 1000 + num, dtype=np.int32)
    b = BPTTBatcher(tokens, N, T)
    L = num // N
    chunks = list(b)
    assert len(chunks) == len(b)
    for x, y in chunks[:-1]:
        assert x.shape == y.shape == (T, N)
    xs = torch.cat([x for x, _ in chunks], 0)  # (L - 1, N)
    ys = torch.cat([y for _, y in chunks], 0)  # (L - 1, N)
    for n in range(N):
        stream = tokens[n * L : (n + 1) * L].tolist()
        assert xs[:, n].tolist() == stream[:-1]
        assert ys[:, n].tolist() == stream[1:]  # every position but the first, once, in order
    assert ys.numel() == b.tokens_per_epoch == N * (L - 1)


def test_time_major_long_tensors_and_short_last_chunk():
    b = BPTTBatcher(torch.arange(22), batch_size=2, seq_length=4)  # streams of 11 -> 10 targets
    assert len(b) == 3 and b.streams.shape == (2, 11)
    shapes = [tuple(x.shape) for x, _ in b]
    assert shapes == [(4, 2), (4, 2), (2, 2)]
    x, y = b.chunk(2)
    assert x.dtype == y.dtype == torch.long
    assert x.tolist() == [[8, 19], [9, 20]] and y.tolist() == [[9, 20], [10, 21]]


def test_iter_from_resumes_identically():
    b = BPTTBatcher(np.arange(200), batch_size=3, seq_length=5)
    full = list(b)
    for k in (0, 4, len(b) - 1, len(b)):
        resumed = list(b.iter_from(k))
        assert len(resumed) == len(full) - k
        for (x1, y1), (x2, y2) in zip(resumed, full[k:]):
            assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert len(b) == 13  # streams of 66 tokens -> 65 targets -> ceil(65 / 5) chunks
    with pytest.raises(ValueError, match=r"start_chunk in \[0, 13\], got 14"):
        b.iter_from(14)


def test_too_short_data_names_seq_length_batch_size_and_tokens():
    with pytest.raises(
        ValueError, match=r"seq_length 50 is longer than the data allows: 100 tokens .*batch_size 4"
    ):
        BPTTBatcher(np.arange(100), batch_size=4, seq_length=50)
    BPTTBatcher(np.arange(51), batch_size=1, seq_length=50)  # exactly one chunk fits


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"batch_size": 0, "seq_length": 5}, ValueError, "batch_size >= 1"),
        ({"batch_size": 2, "seq_length": 0}, ValueError, "seq_length >= 1"),
        ({"tokens": np.zeros((4, 5), np.int64)}, ValueError, r"\(num,\).*\(4, 5\)"),
        ({"tokens": np.zeros(50)}, TypeError, "integer"),
    ],
)
def test_argument_errors(kwargs, err, match):
    args = {"tokens": np.arange(50), "batch_size": 2, "seq_length": 5, **kwargs}
    with pytest.raises(err, match=f"BPTTBatcher: .*{match}"):
        BPTTBatcher(**args)
