"""Helpers for nested tuples of tensors (states such as ``(h, c)`` or deeper)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch


def map_tensors(fn: Callable[[torch.Tensor], Any], obj: Any) -> Any:
    """Apply ``fn`` to every tensor in a nested tuple/list, keeping the structure."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return _rebuild(obj, [map_tensors(fn, o) for o in obj])
    return obj


def _rebuild(obj: tuple | list, items: list) -> Any:
    """A tuple, list or named tuple of ``obj``'s type holding ``items``."""
    return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)


def flatten(obj: Any) -> list[torch.Tensor]:
    """The tensors of a nested tuple/list, depth-first."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in flatten(o)]
    return []


def unflatten(template: Any, tensors: list[torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`: rebuild ``template``'s structure from ``tensors``."""
    return _build(template, iter(tensors))


def _build(obj: Any, it: Iterator[torch.Tensor]) -> Any:
    # A module-level function, not a closure: a recursive closure is a reference cycle that
    # would keep ``tensors`` (and their graphs) alive until the garbage collector runs.
    if isinstance(obj, torch.Tensor):
        return next(it)
    if isinstance(obj, (tuple, list)):
        return _rebuild(obj, [_build(o, it) for o in obj])
    return obj


def first_tensor(obj: Any) -> torch.Tensor | None:
    """The first tensor of a nested structure, depth-first (it decides batch size and masks)."""
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            t = first_tensor(o)
            if t is not None:
                return t
    return None


def detach(obj: Any) -> Any:
    return map_tensors(lambda t: t.detach(), obj)


def requires_grad(obj: Any) -> bool:
    """Whether any tensor in ``obj`` requires gradients."""
    return any(t.requires_grad for t in flatten(obj))


def stack(items: list) -> Any:
    """``torch.stack`` of a list of like-structured values, leaf by leaf."""
    leaves = [flatten(item) for item in items]
    return unflatten(items[0], [torch.stack(ts) for ts in zip(*leaves)])


def cat(items: list) -> Any:
    """``torch.cat`` of a list of like-structured values, leaf by leaf."""
    if len(items) == 1:
        return items[0]
    leaves = [flatten(item) for item in items]
    return unflatten(items[0], [torch.cat(ts) for ts in zip(*leaves)])


def unbind(obj: Any) -> list:
    """A value whose leaves are ``(T, *)`` as the list of its ``T`` slices, leaf by leaf."""
    leaves = [t.unbind(0) for t in flatten(obj)]
    return [unflatten(obj, list(step)) for step in zip(*leaves)]
