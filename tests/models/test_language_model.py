"""LanguageModel: shapes, layer types, validation, learning, carried state and streaming sampling."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit import _nest
from rnnkit.data import Vocab
from rnnkit.models.language_model import LanguageModel
from rnnkit.sequence.seq_gru import SeqGRU
from rnnkit.sequence.seq_lstm import SeqLSTM
from rnnkit.sequence.seq_rnn import SeqRNN

TEXT = "hello world, hello rnn. " * 8
VOCAB = Vocab.from_text(TEXT)


def tiny(model_type="lstm", num_layers=2, vocab_size=None, **kw):
    torch.manual_seed(0)
    v = len(VOCAB) if vocab_size is None else vocab_size
    return LanguageModel(v, model_type, wordvec_size=6, rnn_size=12, num_layers=num_layers, **kw)


def raw_carried(model):
    """The tensors each layer will start its next call from (not copies)."""
    return _nest.flatten(model.get_state())


@pytest.mark.parametrize("model_type, layer", [("lstm", SeqLSTM), ("gru", SeqGRU), ("rnn", SeqRNN)])
def test_forward_shapes_for_each_layer_type(model_type, layer):
    model = tiny(model_type, vocab_size=11)
    logits = model(torch.randint(11, (7, 3)))
    assert logits.shape == (7, 3, 11)
    assert logits.dtype == torch.float32
    assert len(model.rnns) == 2
    assert all(type(r) is layer for r in model.rnns)
    assert (model.rnns[0].input_size, model.rnns[0].hidden_size) == (6, 12)
    assert (model.rnns[1].input_size, model.rnns[1].hidden_size) == (12, 12)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_config_rebuilds_the_same_architecture():
    model = tiny("gru", num_layers=3, dropout=0.25)
    clone = LanguageModel(**model.config())
    assert clone.config() == model.config()
    assert clone.config()["model_type"] == "gru" and clone.config()["dropout"] == 0.25
    clone.load_state_dict(model.state_dict())  # same parameter names and shapes


def test_unknown_model_type_is_a_value_error():
    with pytest.raises(ValueError, match="model_type.*'transformer'"):
        LanguageModel(10, "transformer", wordvec_size=4, rnn_size=8)


@pytest.mark.parametrize("bad", [{"dropout": 1.0}, {"rnn_size": 0}, {"num_layers": 1.5}])
def test_bad_sizes_are_value_errors(bad):
    kw = {"wordvec_size": 4, "rnn_size": 8, "num_layers": 1, **bad}
    with pytest.raises(ValueError):
        LanguageModel(10, **kw)


def test_float_tokens_are_a_type_error():
    model = tiny(vocab_size=5)
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(4, 2))


def test_tokens_must_be_two_dimensional():
    model = tiny(vocab_size=5)
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        model(torch.zeros(4, dtype=torch.long))


def test_overfits_a_tiny_repetitive_text():
    model = tiny(num_layers=1)
    ids = torch.as_tensor(VOCAB.encode_text(TEXT), dtype=torch.long)
    x, y = ids[:-1].view(-1, 1), ids[1:].view(-1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    first = None
    for _ in range(250):
        model.forget()
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.forget()
    with torch.no_grad():
        final = F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
    assert first > 1.0
    assert final < 0.05
    # ... and it has learnt the text: greedy continuation reproduces it.
    assert model.sample(24, start_text="hello", argmax=True, vocab=VOCAB) == TEXT[:29]


def test_state_is_carried_between_calls_and_forget_resets_it():
    model = tiny(vocab_size=9).eval()
    x1, x2 = torch.randint(9, (5, 2)), torch.randint(9, (4, 2))
    model.forget()
    assert model.get_state() == (None, None)
    fresh = model(x2)
    model.forget()
    model(x1)
    state = model.get_state()
    assert all(s is not None for s in state)
    assert state[0][0].shape == (2, 12)  # (h, c) of (N, H) per layer
    carried = model(x2)
    assert not torch.allclose(carried, fresh)
    # Two calls equal one call over the concatenation (truncated BPTT carries the state).
    model.forget()
    whole = model(torch.cat([x1, x2]))
    assert torch.allclose(carried, whole[5:], atol=1e-6)
    model.forget()
    assert model.get_state() == (None, None)
    assert torch.equal(model(x2), fresh)


def test_carried_state_is_detached_at_the_next_call_in_training():
    model = tiny(vocab_size=9).train()
    model(torch.randint(9, (5, 2))).sum().backward()
    assert raw_carried(model)
    # Like a step module's, the state after a call is differentiable (encoder hand-off) ...
    assert all(t.requires_grad for t in raw_carried(model))
    # ... and the next call starts from it detached: its backward stays inside that call.
    model(torch.randint(9, (5, 2))).sum().backward()


def test_set_carried_state_restores_exactly():
    model = tiny(vocab_size=9).eval()
    x1, x2 = torch.randint(9, (5, 2)), torch.randint(9, (4, 2))
    model(x1)
    saved = model.get_state()
    expected = model(x2)
    model.forget()
    model.set_state(saved)
    assert torch.equal(model(x2), expected)


def test_sampling_with_a_seeded_generator_is_reproducible():
    model = tiny()
    a = model.sample(40, vocab=VOCAB, generator=torch.Generator().manual_seed(5))
    b = model.sample(40, vocab=VOCAB, generator=torch.Generator().manual_seed(5))
    c = model.sample(40, vocab=VOCAB, generator=torch.Generator().manual_seed(6))
    assert isinstance(a, str) and len(a) == 40
    assert a == b
    assert a != c


def test_sampling_without_vocab_returns_ids():
    model = tiny(vocab_size=7)
    ids = model.sample(25, generator=torch.Generator().manual_seed(0))
    assert isinstance(ids, list) and len(ids) == 25
    assert all(isinstance(i, int) and 0 <= i < 7 for i in ids)


def test_sampling_uses_the_models_own_vocab():
    model = tiny()
    model.vocab = VOCAB
    out = model.sample(10, start_text="hel", generator=torch.Generator().manual_seed(1))
    assert isinstance(out, str) and out.startswith("hel") and len(out) == 13


@pytest.mark.parametrize("temperature", [1e-4, 0.0])
def test_temperature_near_zero_equals_argmax(temperature):
    model = tiny()
    greedy = model.sample(30, vocab=VOCAB, argmax=True, generator=torch.Generator().manual_seed(2))
    cold = model.sample(
        30, vocab=VOCAB, temperature=temperature, generator=torch.Generator().manual_seed(2)
    )
    hot = model.sample(30, vocab=VOCAB, temperature=5.0, generator=torch.Generator().manual_seed(2))
    assert cold == greedy
    assert hot != greedy


def test_sample_with_start_text_starts_with_it():
    model = tiny()
    out = model.sample(
        12, start_text="world", vocab=VOCAB, generator=torch.Generator().manual_seed(0)
    )
    assert out.startswith("world") and len(out) == 5 + 12


def test_sample_word_level_start_text():
    vocab = Vocab.from_words("the cat sat on the mat".split())
    model = tiny(vocab_size=len(vocab))
    out = model.sample(
        6, start_text="the cat", vocab=vocab, generator=torch.Generator().manual_seed(0)
    )
    assert out.startswith("the cat")
    assert set(out.split()) <= set(vocab.tokens)
    assert len(out.split()) + out.count("\n") == 2 + 6  # words, and <eos> as newlines


@pytest.mark.parametrize("training", [True, False])
def test_sampling_keeps_training_mode_and_carried_state(training):
    model = tiny(dropout=0.3).train(training)
    model(torch.randint(len(VOCAB), (6, 3)))
    before = model.get_state()
    model.sample(15, start_text="hello", vocab=VOCAB, generator=torch.Generator().manual_seed(0))
    assert model.training is training
    after = model.get_state()
    for b_layer, a_layer in zip(before, after, strict=True):
        for b, a in zip(b_layer, a_layer, strict=True):
            assert torch.equal(a, b)


def test_sampling_starts_from_zero_state_not_the_carried_one():
    model = tiny().eval()
    expected = model.sample(20, start_text="hel", vocab=VOCAB, argmax=True)
    model(torch.randint(len(VOCAB), (6, 1)))  # some unrelated carried state
    assert model.sample(20, start_text="hel", vocab=VOCAB, argmax=True) == expected


def test_sampling_streams_one_token_at_a_time_with_constant_state():
    model = tiny()
    n, prefix = 30, "hello w"
    calls = []

    def hook(module, inputs, output):
        state = raw_carried(module)
        calls.append(
            {
                "tokens": tuple(inputs[0].shape),
                "logits_grad": output.requires_grad,
                "state": [tuple(t.shape) for t in state],
                "state_grad": any(t.requires_grad or t.grad_fn is not None for t in state),
            }
        )

    handle = model.register_forward_hook(hook)
    try:
        model.sample(n, start_text=prefix, vocab=VOCAB, generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    assert calls[0]["tokens"] == (len(prefix), 1)  # the prefix runs once
    assert n <= len(calls) <= n + 1  # then one call per sampled token
    assert all(c["tokens"] == (1, 1) for c in calls[1:])
    assert all(c["state"] == [(1, 12)] * 4 for c in calls)  # (h, c) of 2 layers, batch 1
    assert not any(c["logits_grad"] or c["state_grad"] for c in calls)


def test_sample_rejects_bad_arguments():
    model = tiny()
    with pytest.raises(ValueError, match="n"):
        model.sample(0, vocab=VOCAB)
    with pytest.raises(ValueError, match="vocab"):
        model.sample(5, start_text="hello")


def test_failed_sample_keeps_training_mode_and_state():
    model = tiny().train()
    model(torch.randint(len(VOCAB), (6, 3)))
    before = model.get_state()
    with pytest.raises(ValueError):
        model.sample(5, start_text="hello")  # no vocab to encode it
    assert model.training
    assert all(s is not None for s in model.get_state())
    assert torch.equal(model.get_state()[0][0], before[0][0])


def test_training_continues_after_sampling():
    model = tiny().train()
    model(torch.randint(len(VOCAB), (6, 3))).sum().backward()
    model.sample(3, vocab=VOCAB)
    model(torch.randint(len(VOCAB), (6, 3))).sum().backward()  # no graph of the first call
