"""What ``--resume`` does with the options given with it.

The checkpoint's configuration is the run's. An option given with ``--resume``:

- *applies* if it may change mid-run (its field's ``resume`` rule is ``"applies"``: learning
  rate and schedule, budget, epochs, early stopping, checkpointing, logging, device);
- is *refused*, with one line naming it, if it fixes the run (model shape, data options,
  level, seed, batch) and differs from the stored value (the same value is accepted);
- for the data options (``--data``, ``--data-dir``), is compared by content: the same data at
  another path is accepted, other data refused.

Options not given keep the stored values, so ``--resume`` alone continues the run as it was
set up (the same ``--time-budget`` again, counted from this invocation's start).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .checks import ConfigError, flag_name
from .fingerprint import fingerprint, resolved, same_content
from .loop_config import resume_rule

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_C = TypeVar("_C", bound="DataclassInstance")


def given_fields(config: Any) -> set[str]:
    """The fields of ``config`` that differ from their defaults: what a Python caller gave."""
    return {f.name for f in dataclasses.fields(config)
            if getattr(config, f.name) != f.default}  # fmt: skip


def stored_config(cls: type[_C], stored: dict) -> _C:
    """``cls`` built from a checkpoint's configuration (renamed fields followed, unknown dropped)."""
    renamed = getattr(cls, "renamed_fields", {})
    names = {f.name for f in dataclasses.fields(cls)}
    values = {renamed.get(k, k): v for k, v in stored.items()}
    return cls(**{k: v for k, v in values.items() if k in names})


def stored_dict(config: Any) -> dict:
    """``config`` as a checkpoint stores it: a dict, data paths resolved (found, not typed)."""
    stored = dataclasses.asdict(config)
    for f in dataclasses.fields(config):
        if (resume_rule(f) == "data" or f.metadata.get("path")) and stored[f.name] is not None:
            stored[f.name] = resolved(stored[f.name])
    return stored


def _show(value: object) -> str:
    return str(value) if not isinstance(value, str) else value


def merge(config: Any, given: set[str], ckpt: dict, command: str,
          data_files: Callable[[Any], dict[str, list[Path]]]) -> tuple[Any, dict[str, list[dict]]]:  # fmt: skip
    """The configuration a resumed run uses, and the fingerprints of its data.

    ``data_files(config)`` lists, per data option, the files whose content identifies it.
    """
    stored = stored_config(type(config), ckpt["config"])
    known = ckpt.get("data_files") or {}
    take, data_given = {}, []
    for f in dataclasses.fields(config):
        rule, new, old = resume_rule(f), getattr(config, f.name), getattr(stored, f.name)
        if rule == "invocation" or (rule == "applies" and f.name in given):
            take[f.name] = new
        elif rule == "data" and f.name in given and new is not None:
            data_given.append(f.name)
        elif f.name in given and rule != "data" and new != old:
            raise ConfigError(
                f"{command}: {flag_name(f.name)} {_show(new)} differs from this run's "
                f"{_show(old)} and cannot change on --resume (it fixes the model, the data or "
                "the random streams); start a new run (another --out-dir, or --overwrite)"
            )
    merged = dataclasses.replace(stored, **take)
    for name in data_given:
        flag, new, old = flag_name(name), getattr(config, name), getattr(stored, name)
        if old is None:
            raise ConfigError(f"{command}: this run was not trained with {flag}; resume "
                              f"without it (the run's data is found from the checkpoint)")  # fmt: skip
        if resolved(new) == resolved(old):
            merged = dataclasses.replace(merged, **{name: new})
            continue
        candidate = dataclasses.replace(merged, **{name: new})
        if name in known:
            fp = fingerprint(data_files(candidate).get(name, []), show=merged.progress)
            if not fp or not same_content(fp, known[name]):
                raise ConfigError(
                    f"{command}: {flag} {new} is not the data this run was trained on (its "
                    f"content differs from that of {old}); resume without {flag}, or start a "
                    "new run"
                )
        merged = candidate
    prints: dict[str, list[dict]] = {}
    for name, files in data_files(merged).items():
        flag, where = flag_name(name), getattr(merged, name)
        prints[name] = fingerprint(files, known.get(name), show=merged.progress)
        if name not in known or name in data_given:
            continue
        if not prints[name]:
            raise ConfigError(f"{command}: {flag} {where}: no such file or folder (the data this "
                              f"run was trained on); give its new place with {flag}")  # fmt: skip
        if not same_content(prints[name], known[name]):
            raise ConfigError(
                f"{command}: {where} has changed since the checkpoint was written (its content "
                "differs); resume with the data the run was trained on, or start a new run"
            )
    return merged, prints


def upgrade_state(fresh: dict, state: dict, history: dict | list) -> tuple[dict, dict]:
    """A checkpoint's loop state and history, in today's form (older rnnkit wrote others)."""
    state = {**fresh, **state}
    if "chunk" in state:  # language models before the common loop
        state["batch"] = state.pop("chunk")
    if "best_error" in state:  # RAM before the common loop
        state["best"] = state.pop("best_error")
        nll, wrong, n = state.pop("sums", None) or (0.0, 0, 0)
        state["sums"] = {"nll": nll, "error": wrong, "n": n} if n else {}
    if isinstance(history, list):  # RAM: per-epoch records only
        history = {"train": [], "valid": history}
    history = dict(history)
    history["train"] = [r if isinstance(r, dict) else {"iteration": r[0], "loss": r[1]}
                        for r in history.get("train", [])]  # fmt: skip
    return state, history
