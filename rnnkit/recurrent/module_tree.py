"""The step modules inside a module tree: the outermost ones, their states as one nested
state, and the sequence window a decorator opens over all of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import nn

from .._checks import named_errors
from .abstract import AbstractRecurrent, recurrent_modules


def outer_recurrent_modules(module: nn.Module) -> list[AbstractRecurrent]:
    """The step modules inside ``module`` that are not nested in another step module."""
    found: list[AbstractRecurrent] = []

    def visit(m: nn.Module) -> None:
        for child in m.children():
            if isinstance(child, AbstractRecurrent):
                found.append(child)
            else:
                visit(child)

    visit(module)
    return found


def nested_state(modules: list[AbstractRecurrent]) -> Any:
    """The state of one step module, a tuple of the states of several, ``None`` if none."""
    if not modules:
        return None
    states = [m.get_state() for m in modules]
    return states[0] if len(states) == 1 else tuple(states)


def set_nested_state(owner: str, modules: list[AbstractRecurrent], state: Any) -> None:
    """Give ``modules`` the state :func:`nested_state` returned; errors name ``owner``."""
    if not modules:
        if state is not None:
            raise ValueError(
                f"{owner}: expected no state (it drives no step module), got {type(state).__name__}"
            )
        return
    if len(modules) == 1:
        with named_errors(owner):
            modules[0].set_state(state)
        return
    if state is None:
        state = (None,) * len(modules)
    if not isinstance(state, (tuple, list)) or len(state) != len(modules):
        names = ", ".join(type(m).__name__ for m in modules)
        got = (
            f"a {type(state).__name__} of {len(state)}"
            if isinstance(state, (tuple, list))
            else type(state).__name__
        )
        raise TypeError(
            f"{owner}: expected a tuple of {len(modules)} states (one per step module: {names}), got {got}"
        )
    with named_errors(owner):
        for m, s in zip(modules, state):
            m.set_state(s)


@contextlib.contextmanager
def sequence_window(module: nn.Module, n_steps: int) -> Iterator[None]:
    """Tell every step module in ``module`` that the next ``n_steps`` calls are one sequence.

    Inside the window each step module runs the steps older than its ``rho`` (counted
    from the end of the window) without building a graph, which both truncates the
    gradient and keeps training memory bounded by ``rho``.
    """
    modules = list(recurrent_modules(module))
    for m in modules:
        m._steps.window_end = m.step - 1 + n_steps
    try:
        yield
    finally:
        for m in modules:
            m._steps.window_end = None
