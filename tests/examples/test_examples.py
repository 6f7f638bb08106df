"""Every script in examples/ runs at tiny sizes, prints its result line, and learns something.

Each example is loaded from its file and called through ``main(argv)``, as a user runs it,
with sizes small enough for a second or two. The result line must parse; where the script
reports its losses, the loss must have gone down.
"""

import importlib.util
import json
import math
import random
import re
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
SENTENCES = ["the cat sat on the mat", "a dog ran far away from it", "the dog sat on a cat"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(capsys, pattern: str) -> list[float]:
    """The numbers of the last line printed, which must match ``pattern``."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines, "the example printed nothing"
    found = re.search(pattern, lines[-1])
    assert found, f"result line {lines[-1]!r} does not match {pattern!r}"
    return [float(g) for g in found.groups()]


@pytest.fixture(autouse=True)
def _threads():
    """One thread (models this small run fastest so on a busy machine), then the suite's own
    count back: the new examples also set it themselves (``--threads``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def words(n_lines: int, seed: int = 0) -> str:
    """Text an LM learns in moments: a few sentences, in random order."""
    rng = random.Random(seed)
    return "".join(rng.choice(SENTENCES) + "\n" for _ in range(n_lines))


# name: (argv, the result line with the accuracy in %, a floor clearly above chance)
CLASSIFIERS = {
    "simple_recurrent_network": (["--iterations", "150", "--hidden-size", "16"],
                                 rf"next-item accuracy {NUMBER}% on a fresh stream", 60),
    "simple_recurrence_network": (["--iterations", "150", "--hidden-size", "16"],
                                  rf"next-item accuracy {NUMBER}% on a fresh stream", 60),
    "sequence_to_one": (["--iterations", "120", "--hidden-size", "16", "--max-len", "6"],
                        rf"test accuracy {NUMBER}% \(chance 25%\)", 50),
    "encoder_decoder": (["--iterations", "120", "--length", "3", "--hidden-size", "32"],
                        rf"digit accuracy {NUMBER}% \(chance 10%\)", 30),
    "bidirectional_tagger": (["--iterations", "120", "--max-len", "5", "--vocab", "3"],
                             rf"SeqBRNN tagging accuracy {NUMBER}%", 40),
}  # fmt: skip


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classification_example_learns(name, capsys):
    argv, pattern, floor = CLASSIFIERS[name]
    out = load(name).main(argv)
    (accuracy,) = result(capsys, pattern)
    assert accuracy == pytest.approx(100 * out["accuracy"], abs=0.06)
    assert accuracy > floor, f"{name}: accuracy {accuracy}% is not clearly above chance"
    assert out["last_loss"] < 0.7 * out["first_loss"]


def test_time_series_beats_repeating_the_last_value(capsys):
    out = load("time_series").main(["--length", "1600", "--epochs", "6", "--hidden-size", "16"])
    rmse, baseline, noise = result(
        capsys, rf"held-out RMSE {NUMBER} \(repeat-last-value {NUMBER}, noise {NUMBER}\)"
    )
    assert rmse == pytest.approx(out["rmse"], abs=1e-3) and noise == 0.1
    assert noise < rmse < baseline
    assert out["last_loss"] < 0.3 * out["first_loss"]


def test_simple_sequencer(capsys):
    load("simple_sequencer").main(["--iterations", "150", "--hidden-size", "16"])
    printed = capsys.readouterr().out
    first = float(re.search(rf"iteration +0 +NLL {NUMBER}", printed).group(1))
    print(printed.splitlines()[-1])  # the result line, for result() to read
    final, accuracy = result(capsys, rf"final NLL {NUMBER}, next-item accuracy .* {NUMBER}%")
    assert final < 0.7 * first and 0 <= accuracy <= 100


def test_sequence_classifier(tmp_path, capsys):
    argv = ["--out-dir", str(tmp_path), "--n-train", "128", "--n-eval", "32", "--length", "5",
            "--hidden-size", "12", "--max-epochs", "3", "--no-progress"]  # fmt: skip
    assert load("sequence_classifier").main(argv) == 0
    printed = capsys.readouterr().out
    (error,) = [float(e) for e in re.findall(rf"final test error {NUMBER}%", printed)]
    assert 0 <= error <= 100
    train = json.loads((tmp_path / "log.json").read_text())["history"]["train"]
    assert train[-1]["loss"] < train[0]["loss"]


def lm_learned(capsys, out_dir: Path) -> None:
    """An LM example printed its final test loss, below that of a uniform guess, ln V."""
    printed = capsys.readouterr().out
    (loss,) = [float(x) for x in re.findall(rf"final test loss {NUMBER}", printed)]
    vocab = json.loads((out_dir / "log.json").read_text())["model"]["vocab_size"]
    assert loss < math.log(vocab)


def test_char_lm(tmp_path, capsys):
    data = tmp_path / "text.txt"
    data.write_text(words(500))
    out = tmp_path / "run"
    load("char_lm").main(["--data", str(data), "--out-dir", str(out), "--rnn-size", "16",
                          "--num-layers", "1", "--max-epochs", "1", "--time-budget", "0",
                          "--no-progress"])  # fmt: skip
    lm_learned(capsys, out)


def test_ptb_word_lm(tmp_path, capsys):
    ptb = tmp_path / "ptb"  # a stand-in in the Penn Treebank's layout
    ptb.mkdir()
    for split, n_lines, seed in (("train", 400, 0), ("valid", 8, 1), ("test", 8, 2)):
        (ptb / f"ptb.{split}.txt").write_text(words(n_lines, seed))
    out = tmp_path / "run"
    load("ptb_word_lm").main(["--data-dir", str(ptb), "--out-dir", str(out), "--max-epochs", "4",
                              "--no-progress"])  # fmt: skip
    lm_learned(capsys, out)
