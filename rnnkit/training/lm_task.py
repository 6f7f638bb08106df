"""Language-model training as a task: truncated BPTT over contiguous streams, as in torch-rnn.

The training tokens are cut into ``batch_size`` streams; each batch is the next
``seq_length`` tokens of every stream, and the recurrent state carried from one batch to
the next (detached) is that of the text just before it; it is reset at each epoch. Under
``torchrun`` each process trains its share of the streams and carries their state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import _nest
from ..data import BPTTBatcher, DataError, Vocab
from ..models.language_model import LanguageModel
from ..models.output_layer import adaptive_cutoffs
from ..nce.criterion import NCECriterion
from ..nce.sampled_criterion import SampledSoftmaxCriterion
from . import progress as _progress
from .checkpoint import FORMAT, REQUIRED_KEYS, CheckpointError
from .checks import ConfigError
from .lm_data import check_fractions, check_vocab_options, load_lm_data
from .lm_eval import describe, evaluate_split, metrics
from .plots import plot_loss_curves
from .task import Task

DEFAULT_CORPUS_BUDGET_S = 180.0
PREPARED_FILES = ("meta.json", "vocab.json", "train.npy", "valid.npy", "test.npy")
PTB_FILES = ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")


def build_model(model_config: dict, device: str) -> LanguageModel:
    return LanguageModel(**model_config).to(device)


# The recurrent state a model carries between batches: the only two calls of its API.
def get_carried(model: LanguageModel) -> tuple:
    return _nest.detach(model.get_state())


def set_carried(model: LanguageModel, state: tuple | list | None) -> None:
    model.set_state(state)


def _fp32(out: tuple[torch.Tensor, ...]) -> Any:
    """An :class:`~rnnkit.nce.module.NCEOutput` (any tuple of tensors) in float32."""
    return type(out)(*(t.float() for t in out))


def check_tie(command: str, config: Any) -> None:
    """``--tie-weights`` needs one ``(V, H)`` matrix: equal sizes, an output layer that has it."""
    output, _, sparse = config.resolved_output()
    if config.wordvec_size != config.rnn_size:
        raise ConfigError(
            f"{command}: --tie-weights needs --wordvec-size equal to --rnn-size, got "
            f"--wordvec-size {config.wordvec_size} and --rnn-size {config.rnn_size}"
        )
    if output == "adaptive":
        raise ConfigError(f"{command}: --tie-weights works with --output softmax, nce or sampled, "
                          "got adaptive (its output layer has no (V, H) weight to share)")  # fmt: skip
    if output == "softmax" and sparse:
        raise ConfigError(f"{command}: --tie-weights with --sparse needs --output nce or sampled "
                          "(the softmax gives the shared weight a dense gradient)")  # fmt: skip


def _from_legacy_state(states):
    """Checkpoints before the one state API held per layer a list of ``(1, N, H)`` tensors."""

    def layer(state):
        if isinstance(state, list) and all(
            isinstance(t, torch.Tensor) and t.dim() == 3 for t in state
        ):
            squeezed = tuple(t.squeeze(0) for t in state)
            return squeezed if len(squeezed) > 1 else squeezed[0]
        return state

    return tuple(layer(s) for s in states)


class LanguageModelTask(Task[LanguageModel]):
    """``config``: a :class:`~rnnkit.training.config.TrainConfig`."""

    command, format, required_keys, kind = "train", FORMAT, REQUIRED_KEYS, "language-model"
    monitor, rate_unit, outputs = "valid_loss", "tok/s", ("loss.png",)

    def check(self) -> None:
        c, cmd = self.config, self.command
        check_vocab_options(cmd, c.level, c.min_count, c.max_vocab)
        check_fractions(cmd, c.valid_frac, c.test_frac)
        if c.data and c.data_dir:
            raise ConfigError(f"{cmd}: give either --data or --data-dir, not both")
        if c.tie_weights:
            check_tie(cmd, c)
        world = self.procs.world_size if self.procs is not None else 1
        if c.batch_size % world:
            raise ConfigError(
                f"{cmd}: --batch-size {c.batch_size} must be a multiple of the {world} "
                "processes (each trains on an equal share of the streams)"
            )

    def data_files(self, config: Any) -> dict[str, list[Path]]:
        if config.data:
            return {"data": [Path(config.data)]}
        if config.data_dir:
            folder = Path(config.data_dir)
            names = PTB_FILES if (folder / PTB_FILES[0]).is_file() else PREPARED_FILES
            return {"data_dir": [folder / n for n in names]}
        return {}

    def time_budget(self) -> float:
        c = self.config
        if c.time_budget is None:
            return DEFAULT_CORPUS_BUDGET_S if not (c.data or c.data_dir) else 0.0
        return c.time_budget

    def setup(self, ckpt: dict | None) -> str:
        c, procs = self.config, self.procs
        show = c.progress and procs.is_main
        out_dir = Path(c.out_dir)
        # A --data file is prepared into out_dir/corpus (by the first process), staged until the
        # checks below pass, so that a run refused here leaves out_dir as it was.
        with _progress.status(show and not c.data, "reading the data"):
            data = load_lm_data(c, cache=out_dir / "corpus", write_cache=procs.is_main,
                                progress=show)  # fmt: skip
        try:
            if ckpt is not None and Vocab.from_dict(ckpt["vocab"]) != data.vocab:
                raise CheckpointError(
                    f"checkpoint {out_dir / 'checkpoint.pt'} was trained on another vocabulary "
                    "than this data (checkpoints of rnnkit before <unk> and --min-count cannot "
                    "resume on --data: start a new run)"
                )
            try:
                self.batcher = BPTTBatcher(data.splits["train"], c.batch_size, c.seq_length)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            for split in ("valid", "test"):
                if len(data.splits.get(split, ())) < 2:
                    raise DataError(
                        f"the {split} split is too small to evaluate (fewer than 2 tokens)"
                    )
        except BaseException:
            data.discard()
            raise
        data.commit()
        self.data, self.vocab = data, data.vocab
        self.columns = procs.shard(c.batch_size)
        self.nce_loss, self.sampled_loss = NCECriterion(), SampledSoftmaxCriterion()
        return data.description

    def build_model(self, device: str) -> LanguageModel:
        c = self.config
        self.device = device
        output, k, sparse = c.resolved_output()
        counts = self.data.train_counts()
        cutoffs = adaptive_cutoffs(counts) if output == "adaptive" else None
        self.model_config = {"vocab_size": len(self.vocab),
                             **{k: getattr(c, k) for k in c.model_config_keys()},
                             "output": output, "nce_k": k, "adaptive_cutoffs": cutoffs,
                             "sparse": sparse}  # fmt: skip
        model = self.model = build_model(self.model_config, device)
        if c.init_range > 0:
            for p in model.parameters():
                torch.nn.init.uniform_(p, -c.init_range, c.init_range)
        if model.sampled_output:  # NCE's own init after the uniform one, bias log unigram
            model.decoder.reset_parameters()
        model.set_unigrams(counts)
        model.vocab = self.vocab
        return model

    def n_batches(self) -> int:
        return len(self.batcher)

    def batches(self, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.batcher.iter_from(start)

    def start_epoch(self, model: LanguageModel, epoch: int, start: int) -> None:
        model.train()
        if start == 0:
            model.forget()

    def train_step(
        self, model: LanguageModel, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, targets = batch
        inputs = inputs[:, self.columns].to(self.device)
        targets = targets[:, self.columns].to(self.device)
        if self.config.skip_nonfinite:  # a skipped batch must not leave a NaN state behind
            self._before = get_carried(self.model)
        output, net = self.model.output, self._net(model)
        with self._autocast():  # the forward only: the losses below are computed in fp32
            out = net(inputs, targets) if output != "softmax" else net(inputs)
        if output == "nce":
            return self.nce_loss(_fp32(out)), {}
        if output == "sampled":
            return self.sampled_loss(_fp32(out), targets, self.model.decoder.noise_index), {}
        if output == "adaptive":
            return out.float(), {}
        return F.cross_entropy(out.float().flatten(0, 1), targets.flatten()), {}

    def _net(self, model: torch.nn.Module) -> Callable[..., Any]:
        """``model`` (the one trained: DDP-wrapped under torchrun), compiled with ``--compile``.

        Only the training steps run compiled; ``self.model``, what checkpoints save and what
        validation runs, stays the plain module (no ``_orig_mod.`` in its state_dict).
        """
        if not self.config.compile:
            return model
        if getattr(self, "_compiled_of", None) is not model:
            self._compiled_of, self._compiled = model, torch.compile(model)
        return self._compiled

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)

    def undo_step(self, model: LanguageModel) -> None:
        set_carried(self.model, self._before)

    def batch_items(self, batch: tuple[torch.Tensor, torch.Tensor]) -> int:
        return batch[0][:, self.columns].numel()

    def score(self, split: str) -> dict:
        c = self.config
        result = evaluate_split(
            self.model, self.data.splits[split], c.eval_batch_size or c.batch_size, c.seq_length,
            self.device, self.vocab.unk_index, progress=c.progress and self.procs.is_main,
            desc=f"{'validation' if split == 'valid' else split} split",
        )  # fmt: skip
        return metrics(result, self.vocab.level)

    def evaluate(self, model: LanguageModel) -> dict:
        return {f"valid_{k}": v for k, v in self.score("valid").items()}

    def describe_epoch(self, record: dict) -> str:
        valid = {k.removeprefix("valid_"): v for k, v in record.items() if k.startswith("valid_")}
        return f"epoch {record['epoch']}: validation {describe(valid)} (lr {record['lr']:.4g})"

    def state_entries(self, model: LanguageModel) -> dict:
        carried = self.procs.gather(get_carried(model))  # every process's own streams
        return {"vocab": self.vocab.to_dict(),
                "carried": carried if self.procs.distributed else carried[0]}  # fmt: skip

    def restore(self, model: LanguageModel, ckpt: dict) -> None:
        carried = ckpt["carried"][self.procs.rank] if self.procs.distributed else ckpt["carried"]
        # the checkpoint holds CPU tensors: the carried state goes where the model is
        set_carried(
            model, _from_legacy_state(_nest.map_tensors(lambda t: t.to(self.device), carried))
        )

    def final_report(self, model: LanguageModel, summary: dict, echo: Callable[[str], None]) -> dict:
        c = self.config
        valid = self.score("valid")
        echo(f"final validation {describe(valid)}")
        test = self.score("test")
        echo(f"final test {describe(test)}")
        tokens = summary["iterations"] * c.batch_size * c.seq_length
        out = {
            "valid": valid,
            "test": test,
            "tokens_per_s": tokens / max(summary["elapsed_s"], 1e-9),
        }
        if c.sample_length > 0 and self.procs.is_main:
            out["sample"] = model.sample(c.sample_length, temperature=c.temperature)
            echo(f"--- sample (temperature {c.temperature}) ---\n{out['sample']}\n---")
        return out

    def plots(self, model: LanguageModel | None, history: dict, summary: dict) -> list[Path | None]:
        label = {"nce": "train NCE loss", "sampled": "train sampled-softmax loss"}.get(
            self.model.output, "train"
        )
        return [plot_loss_curves(history, Path(self.config.out_dir) / "loss.png",
                                 title=self.data.description[:80], train_label=label)]  # fmt: skip
