"""Every ``torchrun … -m rnnkit …`` command of docs/distributed.md parses, on both sides."""

import re
import shlex
from pathlib import Path

import pytest
import torch
from torch.distributed.run import get_args_parser

from rnnkit.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"


def documented_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if "torchrun" in words:
            commands.append(words[words.index("torchrun") + 1 :])  # env assignments dropped
    return commands


def test_the_page_has_commands_for_train_and_ram():
    subcommands = {words[words.index("rnnkit") + 1] for words in documented_commands()}
    assert subcommands == {"train", "ram"}


@pytest.mark.parametrize("words", documented_commands(), ids=" ".join)
def test_documented_command_parses(words, monkeypatch):
    # the documented machines have GPUs; this one may not, and --device is checked as parsed
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    launcher = get_args_parser().parse_args(words)  # torchrun's own parser: exits on a bad flag
    assert launcher.module and launcher.training_script == "rnnkit"
    assert int(launcher.nnodes) == 2 and launcher.nproc_per_node.isdigit()
    assert (launcher.rdzv_backend == "c10d") == (launcher.rdzv_endpoint != "")
    args = build_parser().parse_args(launcher.training_script_args)  # UsageError on a bad flag
    assert args.command in {"train", "ram"}
    assert args.batch_size % (2 * int(launcher.nproc_per_node)) == 0  # the global batch divides
