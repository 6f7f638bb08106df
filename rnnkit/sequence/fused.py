"""FusedRecurrentLayer: the base of the whole-sequence layers on PyTorch's fused kernels.

``SeqLSTM``, ``SeqLSTMP``, ``SeqGRU`` and ``SeqRNN`` (torch-rnn's and the original's fast
layers) run one call of ATen's recurrent kernel over the whole sequence — the same kernel
``torch.nn.LSTM``/``GRU``/``RNN`` use (oneDNN or the native loop on CPU, cuDNN on GPU) — with
parameters named and laid out as those modules', so they match their step twins exactly.
With ``maskzero=True`` padded batches run shifted on the dense kernel (``SeqLSTM``, which needs
each row's final cell, and zero steps inside a row, a reset of that row's state, on rnnkit's
own whole-sequence kernels; ``SeqLSTMP`` on the packed-sequence path).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from .. import _nest, _seqio
from .._checks import (
    describe_shape,
    expect_floating,
    expect_like,
    expect_positive_int,
    expect_shape,
    expect_tensor,
)
from .._params import new_parameter, uniform_init
from .._state import StateSpec, TensorSpec, check_state
from ..kernels.autocast import autocast_dtype
from ..kernels.scan import exporting, scan_steps
from ..recurrent.abstract import AbstractRecurrent
from .abstract import AbstractSequencer
from .fused_padding import run_masked

if TYPE_CHECKING:
    from typing_extensions import Self

_Step = TypeVar("_Step", bound=AbstractRecurrent)


class FusedRecurrentLayer(AbstractSequencer):
    """Shared machinery: validation, state (given, remembered or zero), masking, ``batch_first``.

    Subclasses set ``_kernel`` (``torch.lstm``/``torch.gru``/``torch.rnn_tanh``), create their
    parameters in ``_weights()`` order, and describe their state with ``_state_sizes()``.
    """

    _kernel: Any = None  # the ATen kernel (torch.lstm, torch.gru, …), set by each subclass
    _is_lstm = False
    _resets_in_kernel = False  # _run_resetting is one whole-sequence kernel call, not per step

    def __init__(
        self, input_size: int, hidden_size: int, batch_first: bool, maskzero: bool
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = expect_positive_int(name, input_size, "input_size")
        self.hidden_size = expect_positive_int(name, hidden_size, "hidden_size")
        self.batch_first = bool(batch_first)
        self.maskzero = bool(maskzero)

    # ------------------------------------------------------------------ subclass API
    def _create_weights(
        self,
        gates: int,
        recurrent_size: int,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        """``weight_ih (G·H, D)``, ``weight_hh (G·H, recurrent_size)``, ``bias_ih``, ``bias_hh (G·H)``.

        ``torch.nn.LSTM``/``GRU``/``RNN``'s names and layout, so weights copy across.
        """
        H, D = self.hidden_size, self.input_size
        kw: dict[str, Any] = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(gates * H, D, **kw)
        self.weight_hh = new_parameter(gates * H, recurrent_size, **kw)
        self.bias_ih = new_parameter(gates * H, **kw)
        self.bias_hh = new_parameter(gates * H, **kw)

    def _weights(self) -> list[torch.Tensor]:
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]

    @property
    def output_size(self) -> int:
        """``H``, the size of each output step (``R`` for :class:`SeqLSTMP`)."""
        return self.hidden_size

    def _copy_into(self, step: _Step) -> _Step:
        """Give the step twin ``step`` copies of these weights (and this layer's masking)."""
        if self.maskzero:
            step.mask_zero(1)
        step.load_state_dict({k: v.detach().clone() for k, v in self.state_dict().items()})
        return step

    @classmethod
    def _copy_from(
        cls, step: Any, batch_first: bool, maskzero: bool | None
    ) -> Self:
        """A layer with copies of the step twin ``step``'s weights; ``maskzero`` defaults to its masking."""
        if maskzero is None:
            maskzero = step.mask_n_input_dim == 1
        w = step.weight_ih
        seq = cls(  # type: ignore[call-arg]  # the subclasses (SeqLSTM, …) take device=, dtype=
            step.input_size, step.output_size, batch_first, maskzero, device=w.device, dtype=w.dtype
        )
        seq.load_state_dict({k: v.detach().clone() for k, v in step.named_parameters()})
        return seq

    def _kernel_weights(self) -> list[torch.Tensor]:
        """The weights passed to the kernel (subclasses may adapt their layout)."""
        return self._weights()

    def _state_sizes(self) -> list[int]:
        """Feature size of each state tensor: ``[R, H]`` for ``(h, c)``, ``[H]`` for ``h``."""
        return [self.hidden_size]

    def _step(
        self, projected: torch.Tensor, state: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One step in plain torch ops, the exported time loop's body (see :meth:`_run_exported`).

        ``projected (N, G·H)`` is ``W_ih x[t] + b_ih``; ``state`` the ``(N, S)`` state tensors.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no _step")

    def reset_parameters(self) -> None:
        """Draw every parameter from ``U(-1/√H, 1/√H)`` (torch.nn.LSTM's init)."""
        uniform_init(self, self.hidden_size)

    # ------------------------------------------------------------------ state forms
    def state_spec(self) -> StateSpec:
        """``(h, c)`` for the LSTMs (``(r, c)`` with a projection), ``h`` otherwise."""
        h = TensorSpec("h0", (self._state_sizes()[0],))
        return (h, TensorSpec("c0", (self._state_sizes()[1],))) if self._is_lstm else h

    def _to_user(self, hx: list[torch.Tensor]) -> Any:
        states = [h.squeeze(0) for h in hx]
        return tuple(states) if self._is_lstm else states[0]

    def _to_kernel(self, state: Any) -> list[torch.Tensor]:
        return [s.unsqueeze(0) for s in (state if self._is_lstm else (state,))]

    def _initial(self, state: Any, n: int, x: torch.Tensor) -> list[torch.Tensor]:
        name = type(self).__name__
        if state is not None:
            check_state(name, state, self.state_spec(), self.weight_ih, batch=n)
            return self._to_kernel(state)
        carried = self._carry.value
        if carried is not None:
            m = self._carry.batch_size()
            if m != n:
                raise ValueError(
                    f"{name}: the carried state has batch size {m} but the input has batch "
                    f"size {n}; call forget() before changing the batch size"
                )
            return self._to_kernel(carried)
        return [x.new_zeros(1, n, size) for size in self._state_sizes()]

    # ------------------------------------------------------------------ kernel calls
    # A graph break: dynamo cannot trace ATen's fused RNN ops (SeqLSTM's mkldnn_rnn_layer fails
    # under torch.compile on the CPU), and nn.LSTM escapes only because dynamo skips it.
    @torch.compiler.disable
    def _run(
        self, x: torch.Tensor, hx: list[torch.Tensor], batch_sizes: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        weights, device, dtype = self._kernel_weights(), x.device.type, self.weight_ih.dtype
        low = autocast_dtype(x)
        autocast = low is not None
        if autocast:  # cast by hand: autocast casts only some of oneDNN's LSTM arguments
            # (a CPU error, nn.LSTM's too); the final state comes back fp32, so the carried one is
            x, hx, weights = x.to(low), [h.to(low) for h in hx], [w.to(low) for w in weights]
        h = tuple(hx) if self._is_lstm else hx[0]
        with torch.autocast(device, enabled=False) if autocast else contextlib.nullcontext():
            if batch_sizes is None:
                result = type(self)._kernel(x, h, weights, True, 1, 0.0, self.training, False, False)
            else:
                result = type(self)._kernel(
                    x, batch_sizes, h, weights, True, 1, 0.0, self.training, False
                )
        return result[0], [f.to(dtype) for f in result[1:]]

    def _run_exported(
        self, x: torch.Tensor, hx: list[torch.Tensor], valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Under ``torch.export``: one input GEMM, then :meth:`_step` as one ``scan``.

        The sequence length stays dynamic in the exported graph; masks reset the state at every
        zero step (what :func:`~rnnkit.sequence.fused_padding.run_masked` computes).
        """
        projected = torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)
        out, final = scan_steps(self._step, [h.squeeze(0) for h in hx], projected, valid)
        return out, [f.unsqueeze(0) for f in final]

    def _run_resetting(
        self, x: torch.Tensor, hx: list[torch.Tensor], valid: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Zero output and state at every padded step, wherever it is: one kernel call per step.

        ``SeqLSTM`` and ``SeqGRU`` override this with rnnkit's whole-sequence kernels.
        """
        outputs = []
        for x_t, v in zip(x.unbind(0), valid.to(x.dtype).unbind(0)):
            out, hx = self._run(x_t.unsqueeze(0), hx)
            m = v.view(1, -1, 1)
            outputs.append(out * m)
            hx = [h * m for h in hx]
        return torch.cat(outputs), hx

    # ------------------------------------------------------------------ forward
    def forward(self, input: Any, state: Any = None, return_state: bool = False) -> Any:
        """Run the whole sequence.

        Args:
            input: ``(T, N, D)`` (``(N, T, D)`` with ``batch_first``), or a list of ``T`` steps
                ``(N, D)`` (then the output is a list too).
            state: initial state (see the class); zeros, or the remembered state, if omitted.
            return_state: also return the final state, differentiable.

        Returns:
            ``output (T, N, H)`` (``(N, T, H)``), or ``(output, final_state)``.
        """
        name = type(self).__name__
        if isinstance(input, (list, tuple)):
            steps, _ = _seqio.split(name, input)
            time = 1 if self.batch_first else 0
            for t, x in enumerate(steps):
                expect_tensor(name, x, f"step {t} of the input")
                expect_shape(name, x, ("N", self.input_size), f"step {t} of the input")
            result = self(torch.stack(steps, time), state, return_state)
            output = result[0] if return_state else result
            return (
                (list(output.unbind(time)), result[1])
                if return_state
                else list(output.unbind(time))
            )
        expect_tensor(name, input)
        layout = ("N", "T", self.input_size) if self.batch_first else ("T", "N", self.input_size)
        if input.dim() != 3 or input.size(2) != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape {describe_shape(layout)}, got "
                f"{describe_shape(tuple(input.shape))}"
            )
        expect_floating(name, input)
        expect_like(name, input, self.weight_ih)
        x = input.transpose(0, 1) if self.batch_first else input
        T, N = x.shape[:2]
        if T == 0:
            raise ValueError(
                f"{name}: expected a sequence of at least one step, got shape {tuple(input.shape)}"
            )
        self.begin_call()
        hx = self._initial(state, N, x)
        valid = (x != 0).any(2) if self.maskzero else None
        # In eval(), no graph and no training workspace, unless the caller asks for gradients
        # w.r.t. the input or the state.
        no_graph = not self.training and not _nest.requires_grad((input, state))
        final: Any  # the kernel's state list (never None with need_final)
        with torch.no_grad() if no_graph else contextlib.nullcontext():
            if exporting():
                output, final = self._run_exported(x, hx, valid)
            elif valid is None or bool(valid.all()):
                output, final = self._run(x, hx)
            else:
                # The final state is kept even when this call does not remember: a later call
                # that does continues from it (the original: neither, neither, both).
                output, final = run_masked(self, x, hx, valid, need_final=True)
        final = self._to_user(final)
        keep_graph = self.training and torch.is_grad_enabled()
        self._carry.set(final if keep_graph else _nest.detach(final))
        if self.batch_first:
            output = output.transpose(0, 1)
        return (output, final) if return_state else output

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        parts += ["batch_first=True"] if self.batch_first else []
        parts += ["maskzero=True"] if self.maskzero else []
        parts += [super().extra_repr()]
        return ", ".join(p for p in parts if p)
