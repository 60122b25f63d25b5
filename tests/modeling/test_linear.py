"""modeling/linear.py: the weight-major product equals `F.linear` (values and gradients, against a float64
reference), is taken exactly where the module docstring says, and the layer is still an `nn.Linear` for state dicts and
peft's LoRA."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simba_music.modeling import linear as linear_module
from simba_music.modeling.linear import WEIGHT_MAJOR_MAX_ROWS, Linear, linear, uses_weight_major


def reference(x, weight, bias):
    return F.linear(x.double(), weight.double(), None if bias is None else bias.double())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 48), (3, 1, 48), (4, 5, 48), (WEIGHT_MAJOR_MAX_ROWS, 48)])
def test_values_and_gradients_match_a_float64_reference(shape, bias):
    layer = Linear(48, 80, bias=bias)
    x = torch.randn(shape, requires_grad=True)
    assert uses_weight_major(x, layer.weight)
    out = layer(x)
    assert out.shape == (*shape[:-1], 80)
    expected = reference(x, layer.weight, layer.bias)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)

    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    x_ref = x.detach().double().requires_grad_()
    weight_ref = layer.weight.detach().double().requires_grad_()
    bias_ref = layer.bias.detach().double().requires_grad_() if bias else None
    F.linear(x_ref, weight_ref, bias_ref).backward(grad_out.double())
    torch.testing.assert_close(x.grad.double(), x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.weight.grad.double(), weight_ref.grad, atol=1e-5, rtol=1e-5)
    if bias:
        torch.testing.assert_close(layer.bias.grad.double(), bias_ref.grad, atol=1e-5, rtol=1e-5)


def test_column_major_rows_give_the_same_values_and_every_output_is_row_major():
    # A transposed product's output passed through an elementwise op is column-major; the weight-major form copies
    # such rows (MKL streams W about 3x slower for that operand) and returns rows, so the next layer gets them too.
    layer = Linear(48, 80)
    x = torch.randn(48, 3).t()
    assert not x.is_contiguous() and uses_weight_major(x, layer.weight)
    out = layer(x)
    assert out.is_contiguous()
    torch.testing.assert_close(out.double(), reference(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)
    assert Linear(80, 16)(torch.nn.functional.gelu(out)).is_contiguous()


def test_gradcheck_through_the_weight_major_form(monkeypatch):
    # float64 is not dispatched weight-major, so force the path to gradcheck it.
    monkeypatch.setattr(linear_module, "uses_weight_major", lambda x, weight: True)
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear, (x, weight, bias))


@pytest.mark.parametrize("case, expected", [
    ("two float32 rows", True),
    ("one row", False),
    ("too many rows", False),
    ("bfloat16", False),
    ("float64", False),
    ("autocast", False),
])
def test_dispatch(case, expected):
    weight = torch.randn(8, 4)
    x = {"one row": torch.randn(1, 1, 4), "too many rows": torch.randn(WEIGHT_MAJOR_MAX_ROWS + 1, 4),
         "bfloat16": torch.randn(2, 4, dtype=torch.bfloat16), "float64": torch.randn(2, 4, dtype=torch.float64)
         }.get(case, torch.randn(2, 1, 4))
    weight = weight.to(x.dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=case == "autocast"):
        assert uses_weight_major(x, weight) is expected
        out = linear(x, weight, None)
    if case != "autocast":
        torch.testing.assert_close(out, F.linear(x, weight))


def test_is_an_nn_linear_with_the_same_state_dict():
    layer, plain = Linear(6, 3), nn.Linear(6, 3)
    assert isinstance(layer, nn.Linear)
    assert layer.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 6)
    torch.testing.assert_close(layer(x), plain(x))


def test_peft_lora_wraps_it_and_its_adapter_changes_the_output():
    peft = pytest.importorskip("peft")
    model = nn.Sequential()
    model.add_module("in_proj", Linear(6, 4))
    lora = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["in_proj"], init_lora_weights=False))
    x = torch.randn(2, 6)
    with torch.no_grad():
        with_adapter = lora(x)
        with lora.disable_adapter():
            without = lora(x)
    assert not torch.allclose(with_adapter, without)
    torch.testing.assert_close(without, F.linear(x, model.in_proj.weight, model.in_proj.bias))
