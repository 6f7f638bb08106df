"""Smoke test of the benchmark command (figures come from full runs, never from tests)."""

from benchmarks import sequence_kernels


def test_sequence_kernels_quick_run_prints_its_rows(capsys):
    sequence_kernels.main(["--quick", "--only", "Sequencer(GRU)", "--markdown"])
    out = capsys.readouterr().out
    assert "CPU:" in out and "matmul peak" in out
    row = next(line for line in out.splitlines() if "| Sequencer(GRU) |" in line)
    ratio = float(row.split("|")[7])
    assert ratio > 0
