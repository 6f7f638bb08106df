"""Table helpers: CAddTable, JoinTable, ParallelTable, SelectTable (args or one tuple)."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import CAddTable, JoinTable, ParallelTable, SelectTable

N = 3


def test_cadd_table_args_and_tuple():
    a, b, c = torch.randn(N, 4), torch.randn(N, 4), torch.randn(N, 4)
    add = CAddTable()
    assert_close(add(a, b), a + b)
    assert_close(add((a, b)), a + b)
    assert_close(add([a, b, c]), a + b + c)
    assert_close(add(a), a)


def test_cadd_table_does_not_broadcast():
    with pytest.raises(ValueError, match=r"CAddTable.*\(3, 4\).*\(1, 4\)"):
        CAddTable()(torch.randn(N, 4), torch.randn(1, 4))


def test_cadd_table_does_not_modify_inputs_and_passes_gradients():
    a = torch.randn(N, 4, requires_grad=True)
    b = torch.randn(N, 4, requires_grad=True)
    a0 = a.detach().clone()
    (CAddTable()(a, b) * 2).sum().backward()
    assert_close(a.detach(), a0, rtol=0, atol=0)
    assert_close(a.grad, torch.full((N, 4), 2.0))
    assert_close(b.grad, torch.full((N, 4), 2.0))


def test_join_table():
    a, b = torch.randn(N, 2), torch.randn(N, 3)
    assert_close(JoinTable()(a, b), torch.cat([a, b], -1))
    assert_close(JoinTable()((a, b)), torch.cat([a, b], -1))
    assert_close(JoinTable(dim=0)(a, a), torch.cat([a, a], 0))
    assert JoinTable(1)([a, b, a]).shape == (N, 7)


def test_select_table():
    h, c = torch.randn(N, 2), torch.randn(N, 2)
    assert SelectTable(0)((h, c)) is h
    assert SelectTable(1)(h, c) is c
    assert SelectTable(-1)([h, c]) is c
    with pytest.raises(ValueError, match=r"SelectTable.*2.*2 inputs"):
        SelectTable(2)((h, c))


def test_parallel_table_without_merge():
    la, lb = nn.Linear(2, 3), nn.Linear(4, 5)
    x, y = torch.randn(N, 2), torch.randn(N, 4)
    par = ParallelTable(la, lb)
    out = par(x, y)
    assert isinstance(out, tuple) and len(out) == 2
    assert_close(out[0], la(x))
    assert_close(out[1], lb(y))
    out2 = par((x, y))
    assert_close(out2[0], la(x))
    assert_close(out2[1], lb(y))
    # the branches are registered submodules
    assert len(list(par.parameters())) == 4


def test_parallel_table_with_merge():
    la, lb = nn.Linear(2, 3), nn.Linear(4, 3)
    x, y = torch.randn(N, 2), torch.randn(N, 4)
    par = ParallelTable(la, lb, merge=CAddTable())
    assert_close(par(x, y), la(x) + lb(y))
    assert_close(par([x, y]), la(x) + lb(y))
    joined = ParallelTable(la, lb, merge=JoinTable())(x, y)
    assert_close(joined, torch.cat([la(x), lb(y)], -1))


def test_parallel_table_wrong_number_of_inputs():
    par = ParallelTable(nn.Identity(), nn.Identity())
    with pytest.raises(ValueError, match=r"ParallelTable.*2 inputs.*got 3"):
        par(torch.randn(1), torch.randn(1), torch.randn(1))


def test_tables_chain_in_sequential():
    la, lb = nn.Linear(2, 3), nn.Linear(4, 3)
    model = nn.Sequential(ParallelTable(la, lb), CAddTable(), nn.Tanh())
    x, y = torch.randn(N, 2), torch.randn(N, 4)
    assert_close(model((x, y)), torch.tanh(la(x) + lb(y)))


@pytest.mark.parametrize("cls", [CAddTable, JoinTable])
def test_no_input_raises(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*at least one input"):
        cls()()
