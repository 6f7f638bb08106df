"""The one carried-state mechanism: what a module carries from one step or call to the next.

Every module that carries state between calls — step modules (``AbstractRecurrent``), the
sequence modules (``AbstractSequencer``: ``Sequencer``, the fused layers, the bidirectional
wrappers), the models — keeps it in a :class:`CarriedState` and derives from
:class:`CarriesState`, which gives them the same behaviour:

* the state follows ``.to()``, ``.double()``, ``.half()`` and device moves of the module;
* copies and pickles take it without its autograd graph (``deepcopy`` refuses non-leaf
  tensors, and a copy must not keep the training graph alive);
* ``set_state`` checks what it is given against the module's :class:`StateSpec` (structure,
  shapes, dtype, device) and names the module in its error.

The holder is a plain object, so updating it at every step costs an attribute store, not
``nn.Module.__setattr__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import _nest


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a state: its name (``"h"``, ``"c"``) and its per-row shape.

    ``shape`` entries may be ``None`` (any size). With ``batched=False`` a tensor without the
    leading batch dim is accepted too (a ``Recurrence`` stepped on single samples).
    """

    name: str
    shape: tuple
    batched: bool = True

    def describe(self, batch: int | None = None) -> str:
        sizes = ["N" if batch is None else str(batch)]
        sizes += ["*" if s is None else str(s) for s in self.shape]
        return f"{self.name} of shape ({', '.join(sizes)}{',' if len(sizes) == 1 else ''})"


# A state spec is a TensorSpec, a tuple of specs (``(h, c)``, nested states of stacks), or
# None (the module cannot say: any tensors are accepted).
StateSpec = Any


def describe_spec(spec: StateSpec, batch: int | None = None) -> str:
    if spec is None:
        return "tensors"
    if isinstance(spec, TensorSpec):
        return spec.describe(batch)
    return "(" + ", ".join(describe_spec(s, batch) for s in spec) + ")"


def _describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def check_state(
    module: str,
    state: Any,
    spec: StateSpec,
    like: torch.Tensor | None,
    batch: int | None = None,
) -> None:
    """Raise ``TypeError``/``ValueError`` naming ``module`` unless ``state`` fits ``spec``.

    Every tensor must have the dtype and device of ``like`` (the module's parameters), when
    the module has any, and one batch size: ``batch`` when given.
    """
    sizes: list[tuple[str, int]] = []
    _check(module, state, spec, like, batch, sizes)
    if any(n != sizes[0][1] for _, n in sizes[1:]):  # not a set: sizes may be symbolic
        got = ", ".join(f"{name}: {n}" for name, n in sizes)
        raise ValueError(
            f"{module}: expected every tensor of the state to have the same batch size, got {got}"
        )


def _check(
    module: str,
    state: Any,
    spec: StateSpec,
    like: torch.Tensor | None,
    batch: int | None,
    sizes: list,
) -> None:
    if spec is None:
        tensors = _nest.flatten(state)
        if not tensors or len(tensors) != _count_leaves(state):
            raise TypeError(
                f"{module}: expected the state to be a tensor or a tuple of tensors, got "
                f"{_describe_value(state)}"
            )
        for t in tensors:
            _check_tensor(module, t, None, like, batch, sizes)
        return
    if isinstance(spec, TensorSpec):
        if not isinstance(state, torch.Tensor):
            raise TypeError(
                f"{module}: expected {spec.name} to be a torch.Tensor, got {type(state).__name__}"
            )
        _check_tensor(module, state, spec, like, batch, sizes)
        return
    if not isinstance(state, (tuple, list)) or len(state) != len(spec):
        raise TypeError(
            f"{module}: expected the state as a tuple {describe_spec(spec, batch)}, got "
            f"{_describe_value(state)}"
        )
    for s, sub in zip(state, spec):
        _check(module, s, sub, like, batch, sizes)


def _count_leaves(obj: Any) -> int:
    if isinstance(obj, (tuple, list)):
        return sum(_count_leaves(o) for o in obj)
    return 1


def _check_tensor(
    module: str,
    t: torch.Tensor,
    spec: TensorSpec | None,
    like: torch.Tensor | None,
    batch: int | None,
    sizes: list,
) -> None:
    name = "state" if spec is None else spec.name
    if not t.is_floating_point():
        raise TypeError(f"{module}: expected a floating-point {name}, got {t.dtype}")
    if like is not None and (t.dtype != like.dtype or t.device != like.device):
        raise TypeError(
            f"{module}: expected {name} with dtype {like.dtype} on {like.device} (as its "
            f"parameters), got {t.dtype} on {t.device}"
        )
    if spec is None:
        if t.dim() == 0:
            raise ValueError(f"{module}: expected a state with a batch dim, got a 0-dim tensor")
        fits = batch is None or t.size(0) == batch
        if not fits:
            raise ValueError(
                f"{module}: expected state of batch size {batch}, got shape {tuple(t.shape)}"
            )
        sizes.append((name, t.size(0)))
        return
    shape = tuple(t.shape)
    if t.dim() == len(spec.shape) + 1:
        fits = batch is None or shape[0] == batch
        sizes.append((name, shape[0]))
        per_row = shape[1:]
    else:
        fits = not spec.batched and t.dim() == len(spec.shape) and batch is None
        per_row = shape
    fits = fits and all(e is None or e == s for e, s in zip(spec.shape, per_row))
    if not fits:
        shown = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{module}: expected {spec.describe(batch)}, got {shown}")


class CarriedState:
    """What a module starts its next step or call from, and whether the user gave it.

    ``value`` is ``None`` (zeros) or a tensor / nested tuple of tensors. ``given`` marks a state
    set with ``set_state``: it stays differentiable and survives the reset at the start of the
    next call, so an encoder's final state can start a decoder.
    """

    __slots__ = ("value", "given")

    def __init__(self) -> None:
        self.value: Any = None
        self.given = False

    def set(self, value: Any, given: bool = False) -> None:
        self.value = value
        self.given = given and value is not None

    def clear(self, keep_given: bool = False) -> None:
        """Back to zeros; a state the user gave is kept with ``keep_given``."""
        if not (keep_given and self.given):
            self.value, self.given = None, False

    def detach(self) -> None:
        """Cut the graph behind the state (truncated BPTT between calls), unless the user gave it."""
        if not self.given:
            self.value = _nest.detach(self.value)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.value = _nest.map_tensors(fn, self.value)

    def batch_size(self) -> int | None:
        t = _nest.first_tensor(self.value)
        return None if t is None or t.dim() == 0 else t.size(0)

    def __getstate__(self) -> dict:
        # Copies and pickles take the values without their graph.
        return {"value": _nest.detach(self.value), "given": self.given}

    def __setstate__(self, state: dict) -> None:
        self.value, self.given = state["value"], state["given"]


class CarriesState(nn.Module):
    """Base of every module that keeps :class:`CarriedState` holders in its attributes.

    Moves every holder's tensors with the module (``.to()``, ``.double()``, ``.cuda()`` …).
    Subclasses provide ``get_state()`` / ``set_state(state)``.
    """

    #: True for step modules (one call is one time step), whose state a wrapper that drops
    #: rows (``MaskZero``) could not reset.
    is_step_module = False

    def _holders(self) -> Iterator[CarriedState]:
        for value in vars(self).values():
            if isinstance(value, CarriedState):
                yield value

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        super()._apply(fn, *args, **kwargs)
        for holder in self._holders():
            holder.apply(fn)
        return self

    def get_state(self) -> Any:
        raise NotImplementedError

    def set_state(self, state: Any) -> None:
        raise NotImplementedError


def parameter_like(module: nn.Module) -> torch.Tensor | None:
    """A floating parameter or buffer of ``module`` (its dtype and device), or ``None``."""
    for p in module.parameters():
        if p.is_floating_point():
            return p
    for t in module.buffers():
        if t.is_floating_point():
            return t
    return None
