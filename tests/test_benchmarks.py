"""Smoke test of the benchmark command (figures come from full runs, never from tests)."""

from benchmarks import sequence_kernels


def test_sequence_kernels_quick_run_prints_its_rows(capsys):
    sequence_kernels.main(["--quick", "--only", "Sequencer(GRU)", "--markdown"])
    out = capsys.readouterr().out
    assert "CPU:" in out and "matmul peak" in out
    row = next(line for line in out.splitlines() if "| Sequencer(GRU) |" in line)
    ratio = float(row.split("|")[7])
    assert ratio > 0


def test_sequence_kernels_refuses_a_device_torch_does_not_see(capsys, monkeypatch):
    import pytest
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stop:
        sequence_kernels.main(["--quick", "--device", "cuda"])
    assert stop.value.code == 2
    assert "--device cuda: torch sees no CUDA device" in capsys.readouterr().err
