"""Every variant the config expresses, with one and four codebooks, trains and round-trips on the PyTorch path.

Each cell runs: an AdamW step (finite gradients on every parameter, the loss moves), gradient checkpointing (same
gradients), bf16 autocast (finite, close to fp32), cached decoding (equal to the full forward) and a safetensors
round trip (identical logits). Below, each sublayer kind's gradients pass finite differences in float64.
"""

import pytest
import torch
from torch.func import functional_call

from simba_music import SimbaMusicForCausalLM
from simba_music.modeling.blocks import SUBLAYER_CLASSES
from simba_music.modeling.delay_pattern import apply_delay_pattern, undo_delay_pattern
from tests.conftest import VARIANTS, tiny_config

CODEBOOKS = [1, 4]
LENGTH = 10  # more than two SSD chunks (chunk_size 4 below)
SUBLAYER_LENGTH = 19  # more than one selective-scan block (16)
# bf16 keeps 8 bits of mantissa; over two tiny layers logits of size ~1 move by a few hundredths.
BF16_LOGIT_TOLERANCE = 0.1


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny ops never pay for a second thread, and on a loaded machine waiting for it costs ~8x (issue 16)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _setup(variant, codebooks, **overrides):
    model = SimbaMusicForCausalLM(tiny_config(variant, num_codebooks=codebooks, chunk_size=4, **overrides))
    shape = (2, LENGTH) if codebooks == 1 else (2, codebooks, LENGTH)
    return model, torch.randint(0, 64, shape), torch.randn(2, 5, 24)


def _grads(model, ids, text):
    model.zero_grad(set_to_none=True)
    model(ids, encoder_hidden_states=text, labels=ids).loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


cells = pytest.mark.parametrize("variant,codebooks", [(v, k) for v in sorted(VARIANTS) for k in CODEBOOKS])


@cells
def test_training_step_updates_every_parameter(variant, codebooks):
    model, ids, text = _setup(variant, codebooks)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = model(ids, encoder_hidden_states=text, labels=ids).loss
    before.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), name
    assert any(p.grad.abs().max() > 0 for p in model.parameters())
    optimizer.step()
    with torch.no_grad():
        after = model(ids, encoder_hidden_states=text, labels=ids).loss
    assert after < before  # one step on a single batch lowers its loss


@cells
def test_gradient_checkpointing_gives_the_same_gradients(variant, codebooks):
    model, ids, text = _setup(variant, codebooks)
    model.train()
    plain = _grads(model, ids, text)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    checkpointed = _grads(model, ids, text)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-6, rtol=1e-5, msg=name)


@cells
def test_bf16_autocast_is_finite_and_close_to_fp32(variant, codebooks):
    model, ids, text = _setup(variant, codebooks)
    with torch.no_grad():
        reference = model(ids, encoder_hidden_states=text).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids, encoder_hidden_states=text, labels=ids)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert (out.logits.float() - reference).abs().max() < BF16_LOGIT_TOLERANCE


@cells
def test_cached_decoding_equals_the_full_forward(variant, codebooks):
    model, ids, text = _setup(variant, codebooks)
    model.eval()
    with torch.no_grad():
        full = model(ids, encoder_hidden_states=text).logits
        steps = ids if codebooks == 1 else apply_delay_pattern(ids, 64)
        kwargs = {} if codebooks == 1 else {"delay_pattern_applied": True}
        out = model(steps[..., :3], encoder_hidden_states=text, use_cache=True, **kwargs)
        cache, pieces = out.cache, [out.logits]
        for t in range(3, steps.shape[-1]):
            pieces.append(model(steps[..., t:t + 1], cache=cache).logits)
    stepped = torch.cat(pieces, -2)
    if codebooks > 1:
        stepped = undo_delay_pattern(stepped, LENGTH)
    torch.testing.assert_close(stepped, full, atol=1e-4, rtol=1e-4)


@cells
def test_safetensors_round_trip_gives_identical_logits(variant, codebooks, tmp_path):
    model, ids, text = _setup(variant, codebooks)
    model.eval().save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = SimbaMusicForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(model(ids, encoder_hidden_states=text).logits,
                           loaded(ids, encoder_hidden_states=text).logits)


@pytest.mark.parametrize("kind", sorted(SUBLAYER_CLASSES))
def test_sublayer_gradients_pass_finite_differences(kind):
    """Gradients with respect to the input, the text and every parameter, in float64 (fast-mode gradcheck checks
    random projections of the Jacobian, so every parameter counts without one evaluation per element)."""
    conditioning = "cross_attention" if kind == "cross_attention" else "prefix"
    op = SUBLAYER_CLASSES[kind](tiny_config(block_pattern=[kind], conditioning=conditioning), "0.0").double()
    with torch.no_grad():
        for parameter in op.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)  # every path matters, away from kinks at zero
    names = [name for name, _ in op.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in op.parameters()]
    x = torch.randn(2, SUBLAYER_LENGTH, 32, dtype=torch.float64, requires_grad=True)
    text = torch.randn(2, 5, 32, dtype=torch.float64, requires_grad=True)

    def run(x, text, *values):
        return functional_call(op, dict(zip(names, values, strict=True)), (x,), {"text_states": text})
    assert torch.autograd.gradcheck(run, (x, text, *params), fast_mode=True)
