"""Bad input raises ValueError/TypeError naming the module, what it expected and what it got."""

import pytest
import torch
from torch import nn

from rnnkit import (
    GRU,
    LSTM,
    FastLSTM,
    MuFuRu,
    NormStabilizer,
    Recurrence,
    Recurrent,
    Recursor,
    Repeater,
    Sequencer,
)

N, D, H = 4, 3, 5

GATED = {
    "FastLSTM": FastLSTM,
    "LSTM": LSTM,
    "GRU": GRU,
    "MuFuRu": MuFuRu,
}


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", GATED)
def test_wrong_feature_size(name):
    m = GATED[name](D, H)
    with pytest.raises(ValueError, match=rf"{name}.*\(N, {D}\).*\({N}, {D + 2}\)"):
        m(torch.randn(N, D + 2))


@pytest.mark.parametrize(
    "shape, shown",
    [((D,), rf"\({D},\)"), ((2, N, D), rf"\(2, {N}, {D}\)"), ((), r"\(\)")],
    ids=["1-D", "3-D", "0-D"],
)
def test_fast_lstm_wrong_rank(shape, shown):
    with pytest.raises(ValueError, match=rf"FastLSTM.*expected.*\(N, {D}\).*got {shown}"):
        FastLSTM(D, H)(torch.randn(shape))


def test_wrong_feature_size_inside_a_sequencer_names_the_step_module():
    seq = Sequencer(nn.Sequential(nn.Linear(D, H), GRU(H + 1, H)))
    with pytest.raises(ValueError, match=rf"GRU.*\(N, {H + 1}\).*\({N}, {H}\)"):
        seq(torch.randn(2, N, D))


@pytest.mark.parametrize("batch_first", [False, True])
def test_sequencer_1d_tensor(batch_first):
    layout = r"\(N, T, \*\)" if batch_first else r"\(T, N, \*\)"
    with pytest.raises(ValueError, match=rf"Sequencer.*{layout}.*\(5,\)"):
        Sequencer(FastLSTM(D, H), batch_first=batch_first)(torch.randn(5))


def test_norm_stabilizer_wrong_rank():
    with pytest.raises(ValueError, match=r"NormStabilizer.*\(N, H\).*\(2, 3, 4\)"):
        NormStabilizer()(torch.randn(2, 3, 4))


def test_recurrence_wrong_rank():
    rnn = Recurrence(nn.Bilinear(4, H, H), H, 1)
    with pytest.raises(ValueError, match=r"Recurrence.*n_input_dim=1.*\(2, 3, 4\)"):
        rnn(torch.randn(2, 3, 4))


# ---------------------------------------------------------------- dtypes and types
def test_float_indices_into_embedding_sequencer():
    seq = Sequencer(nn.Sequential(nn.Embedding(10, D), FastLSTM(D, H)))
    with pytest.raises(TypeError, match=r"Sequencer.*torch\.long.*Embedding.*torch\.float32"):
        seq(torch.rand(6, N) * 9)
    assert seq(torch.randint(10, (6, N))).shape == (6, N, H)


@pytest.mark.parametrize("name", GATED)
def test_int_features(name):
    with pytest.raises(TypeError, match=rf"{name}.*floating.*torch\.int64"):
        GATED[name](D, H)(torch.ones(N, D, dtype=torch.long))


def test_int_features_through_a_sequencer():
    with pytest.raises(TypeError, match=r"FastLSTM.*floating.*torch\.int64"):
        Sequencer(FastLSTM(D, H))(torch.ones(2, N, D, dtype=torch.long))


def test_non_tensor_step_input():
    with pytest.raises(TypeError, match=r"FastLSTM.*torch\.Tensor.*list"):
        FastLSTM(D, H)([[0.0] * D] * N)


def test_non_sequence_input_to_sequencer():
    with pytest.raises(TypeError, match=r"Sequencer.*tensor or a list.*str"):
        Sequencer(FastLSTM(D, H))("abc")


def test_float64_input_into_float32_module():
    with pytest.raises((TypeError, ValueError), match=r"FastLSTM.*float32.*float64"):
        FastLSTM(D, H)(torch.randn(N, D, dtype=torch.float64))


# ---------------------------------------------------------------- sequences
def test_list_with_different_batch_sizes():
    xs = [torch.randn(N, D), torch.randn(N - 1, D), torch.randn(N, D)]
    msg = rf"Sequencer.*same batch size.*\[{N}, {N - 1}, {N}\]"
    with pytest.raises(ValueError, match=msg):
        Sequencer(FastLSTM(D, H))(xs)


@pytest.mark.parametrize("empty", [[], (), torch.randn(0, N, D)], ids=["list", "tuple", "tensor"])
def test_empty_sequence(empty):
    with pytest.raises(ValueError, match=r"Sequencer.*at least one step"):
        Sequencer(FastLSTM(D, H))(empty)


def test_unknown_remember_mode():
    msg = r"Sequencer.*remember mode.*'neither', 'both', 'train', 'eval'.*'sometimes'"
    with pytest.raises(ValueError, match=msg):
        Sequencer(FastLSTM(D, H)).remember("sometimes")


def test_batch_size_change_while_stepping_by_hand():
    lstm = FastLSTM(D, H)
    lstm(torch.randn(N, D))
    msg = rf"FastLSTM.*batch size {N}.*batch size {N - 1}.*forget\(\)"
    with pytest.raises(ValueError, match=msg):
        lstm(torch.randn(N - 1, D))


# ---------------------------------------------------------------- constructor arguments
RHO_MODULES = {
    "FastLSTM": lambda rho: FastLSTM(D, H, rho=rho),
    "LSTM": lambda rho: LSTM(D, H, rho=rho),
    "GRU": lambda rho: GRU(D, H, rho=rho),
    "MuFuRu": lambda rho: MuFuRu(D, H, rho=rho),
    "Recursor": lambda rho: Recursor(nn.Linear(D, H), rho=rho),
    "Recurrence": lambda rho: Recurrence(nn.Bilinear(D, H, H), H, 1, rho=rho),
    "Recurrent": lambda rho: Recurrent(H, nn.Linear(D, H), nn.Linear(H, H), rho=rho),
}


@pytest.mark.parametrize("rho", [0, -3])
@pytest.mark.parametrize("name", RHO_MODULES)
def test_non_positive_rho(name, rho):
    with pytest.raises(ValueError, match=rf"{name}.*rho.*positive.*{rho}"):
        RHO_MODULES[name](rho)


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("arg", ["input_size", "output_size"])
def test_non_positive_sizes(name, arg):
    sizes = {"input_size": D, "output_size": H, arg: 0}
    with pytest.raises(ValueError, match=rf"{name}.*{arg}.*positive.*0"):
        GATED[name](sizes["input_size"], sizes["output_size"])


def test_gru_dropout_out_of_range():
    with pytest.raises(ValueError, match=r"GRU.*\[0, 1\).*1\.5"):
        GRU(D, H, p=1.5)


def test_recurrence_bad_output_size():
    with pytest.raises(ValueError, match=r"Recurrence.*output_size.*'a'"):
        Recurrence(nn.Identity(), "a", 1)
    with pytest.raises(ValueError, match=r"Recurrence.*n_input_dim.*-1"):
        Recurrence(nn.Identity(), H, -1)


@pytest.mark.parametrize("cls", [Recursor, Recurrence])
def test_non_module(cls):
    args = (H, 1) if cls is Recurrence else ()
    with pytest.raises(TypeError, match=rf"{cls.__name__}.*nn\.Module.*int"):
        cls(3, *args)


@pytest.mark.parametrize("make", [lambda m: Sequencer(m), lambda m: Repeater(m, 2)])
def test_sequence_decorator_of_a_non_module(make):
    with pytest.raises(TypeError, match=r"(Sequencer|Repeater).*nn\.Module.*int"):
        make(3)
