"""Hoisted and deferred linear maps: the per-step products of a recurrence, batched over time.

A recurrence written step by step computes, at every step, ``x[t] Wᵀ`` (the input
projection) and ``h Wᵀ`` (the recurrent one), and in backward one weight-gradient product
per step with inner dimension ``N``, accumulated into ``W``. Over one whole-sequence call:

- :class:`HoistedLinear` computes the input projection of all ``T`` steps as one product
  over ``T·N`` rows; each step takes its slice of one ``unbind``, whose backward stacks the
  steps' gradients once, so the input, weight and bias gradients are one product each
  (plain autograd).
- :class:`DeferredLinear` computes ``addmm(b, h, Wᵀ)`` against a detached contiguous ``Wᵀ``
  made once per call, so the step's backward (ATen's) gives only the input gradient; a
  tensor hook records the step's output gradient. The weight gradient of all steps is then
  one product over the records, ``cat(grads)ᵀ cat(h)``.

That product is computed by a *collect* node: a Function applied once per call to ``W`` and
``b`` that returns the bias (zeros without one) as a new tensor, which every step's product
adds; so autograd runs the collect node after the backward of every step that uses it, with
the bias gradient already summed. Records are tagged with the backward pass (graph task)
that made them and the collect node uses only its own pass's, so a second backward with
``retain_graph``, a backward that does not reach the weights (``autograd.grad`` w.r.t. the
input only) or an interrupted one give the gradients of stepping. Steps run under
``no_grad`` (outside ``rho``) register no hook and record nothing. A step input changed in
place before backward raises, as autograd's saved-tensor check does.

The collect node is not differentiable twice: second derivatives through the weight
gradient raise (``once_differentiable``).

Shapes: hoisted input ``x (T, *, in)``; deferred input ``h (*, in)``; ``weight (out, in)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .step_product import StepProduct, linear_rows, onednn_pays


def _task_id() -> int:
    return torch._C._current_graph_task_id()


class _Tape:
    """The records of one map's steps in backward: ``(pass, h (M, in), version, grad)``.

    Empty between backward passes. Nothing of the graph refers to it but the collect node's
    ``ctx`` and the steps' hooks, and it holds tensors only while a backward runs: a tape
    that held the steps' inputs from forward on would close a reference cycle through the
    graph (a later step's ``h`` leads back to the collect node), which Python's collector
    cannot free.
    """

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list[tuple] = []

    def weight_grad(self) -> Tensor | None:
        """``Σ_t grad_tᵀ h_t`` over this backward pass's records, as one product."""
        task = _task_id()
        mine = [r[1:] for r in self.records if r[0] == task]
        self.records = []  # older passes' (interrupted ones) go too
        if not mine:
            return None
        for h2, version, _ in mine:
            if h2._version != version:  # what autograd's saved tensors would say
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    "by an inplace operation: the input of a deferred linear map (rnnkit)"
                )
        hs = torch.cat([h2 for h2, _, _ in mine])  # (K·M, in)
        gs = torch.cat([g for _, _, g in mine])  # (K·M, out)
        return gs.t().mm(hs)


def _recorder(tape: _Tape, node: Any, h2: Tensor) -> Callable[[Tensor], None]:
    """The hook on one step's product: records ``(h, grad)`` for the collect node ``node``."""
    version = h2._version

    def record(grad: Tensor | None) -> None:
        # No gradient reached this step's output (``None``): nothing to add. A pass that
        # will not run the collect node (autograd.grad w.r.t. the input only) would leave
        # its record behind: keep nothing for it.
        if grad is not None and torch._C._will_engine_execute_node(node):
            tape.records.append((_task_id(), h2, version, grad))

    return record


class _Collect(torch.autograd.Function):
    """The collect node: ``bias`` (zeros without one) as a new tensor, in the graph of ``W``.

    Every step's product adds it, so autograd runs this node's backward after all of
    theirs, with the bias gradient already summed over steps; the weight gradient is one
    product over the steps' records.
    """

    @staticmethod
    def forward(ctx, tape, weight, bias):
        ctx.tape, ctx.has_bias = tape, bias is not None
        return bias.clone() if bias is not None else weight.new_zeros(weight.size(0))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_bias):
        grad_w = ctx.tape.weight_grad() if ctx.needs_input_grad[1] else None
        return None, grad_w, grad_bias if ctx.has_bias else None


class _PreparedProduct(torch.autograd.Function):
    """``h W_ᵀ + bias`` against oneDNN-prepared weights, forward and backward
    (:mod:`rnnkit.kernels.step_product`): only the input and bias gradients; the weight's is
    deferred (the tape)."""

    @staticmethod
    def forward(ctx, h2, bias, forward_product, backward_product):
        ctx.backward_product = backward_product
        return forward_product.add(bias, h2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        grad_h = ctx.backward_product(grad) if ctx.needs_input_grad[0] else None
        grad_bias = grad.sum(0) if ctx.needs_input_grad[1] else None
        return grad_h, grad_bias, None, None


class DeferredLinear:
    """``F.linear(h, weight, bias)`` for every step of one call, weight gradient deferred.

    Make one per call (it fixes a contiguous ``Wᵀ`` for the call) and call it on each
    step's ``h``. Each product is ATen's ``addmm`` against the detached ``Wᵀ`` plus the
    collect node's bias, so its backward (C++) gives only the input gradient and the bias's;
    a tensor hook records the step's input and output gradient for the weight gradient.
    Where a weight prepared for oneDNN pays (float32 on the CPU, a large weight, ``steps``
    products or more: :class:`~rnnkit.kernels.step_product.StepProduct`), the forward and
    backward products run against prepared copies of ``W`` and ``Wᵀ`` instead (2–3.5× faster
    per product at ``H = 512 … 1024`` on the machines we measured), through a node of ours
    that is, like the collect node, not differentiable twice.
    With ``split`` (sizes of the output's last dim), each call returns the parts, as views:
    a caller that splits the result anyway saves a slice backward (a zero-filled buffer)
    per part and step; the parts must not be modified in place.
    """

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None = None,
        split: tuple[int, ...] | None = None,
        steps: int = 0,
    ) -> None:
        self.split = split
        self.weight = weight.detach()
        self._weight_t: Tensor | None = None  # (in, out), made for the BLAS path only
        self.tape = _Tape()
        wanted = torch.is_grad_enabled() and (
            weight.requires_grad or (bias is not None and bias.requires_grad)
        )
        if wanted:
            self.bias = _Collect.apply(self.tape, weight, bias)
        else:
            self.bias = weight.new_zeros(weight.size(0)) if bias is None else bias.detach()
        self.weight_wanted = wanted and weight.requires_grad
        self.steps = steps
        self._onednn = onednn_pays(self.weight, steps)
        self._prepared: tuple[StepProduct, StepProduct] | None = None
        self._prepared_rows = -1

    def _products(self, rows: int) -> tuple[StepProduct, StepProduct] | None:
        """The oneDNN-prepared forward and backward products for ``rows``, where they pay."""
        if self._onednn and rows != self._prepared_rows:
            self._prepared_rows = rows
            self._prepared = (StepProduct(self.weight, rows, self.steps, True),
                              StepProduct(self.weight.t(), rows, self.steps, True))  # fmt: skip
        return self._prepared

    @property
    def weight_t(self) -> Tensor:
        """``Wᵀ (in, out)``, contiguous: read row-wise by each step's ``addmm``."""
        if self._weight_t is None:
            self._weight_t = self.weight.t().contiguous()
        return self._weight_t

    def __call__(self, h: Tensor) -> Any:  # a tensor, or with ``split`` a tuple of parts
        h2 = h.reshape(-1, h.size(-1))  # (*, in) -> (M, in)
        prepared = self._products(h2.size(0))
        if prepared is not None:
            out = _PreparedProduct.apply(h2, self.bias, *prepared)
        else:
            out = torch.addmm(self.bias, h2, self.weight_t)
        if self.weight_wanted and torch.is_grad_enabled():
            out.register_hook(_recorder(self.tape, self.bias.grad_fn, h2))
        out = out.view(*h.shape[:-1], out.size(-1))
        return out if self.split is None else out.split(self.split, -1)


# ---------------------------------------------------------------------------- hoisted
class HoistedLinear:
    """``F.linear(x[t], weight, bias)`` for every ``t`` of ``x (T, *, in)``, as one product.

    ``hoisted[t]`` is step ``t``'s output: a new tensor (the caller may modify it in place),
    or with ``split`` the parts, as views, as :class:`DeferredLinear` gives them. Plain
    autograd: the steps' slices come from one ``unbind``, whose backward stacks every step's
    gradient once (no per-step node of ours, no zero-filled ``(T, N, out)`` buffer per step);
    the input, weight and bias gradients are then one product each.
    """

    def __init__(
        self,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None = None,
        split: tuple[int, ...] | None = None,
    ) -> None:
        out = linear_rows(x.reshape(-1, x.size(-1)), weight, bias)  # (T·N', out)
        out = out.view(*x.shape[:-1], weight.size(0))  # (T, *, out)
        self.split = split
        self.steps: Sequence[Any]  # (*, out) tensors, or with ``split`` tuples of parts
        if split is None:
            self.steps = out.unbind(0)
        else:
            self.steps = list(zip(*(part.unbind(0) for part in out.split(split, -1))))

    def __getitem__(self, t: int) -> Any:  # a tensor, or with ``split`` a tuple of parts
        """Step ``t``'s output."""
        # A copy, not a view: a cell may modify it in place (ReLU(inplace=True)).
        return self.steps[t] if self.split is not None else self.steps[t].clone()
