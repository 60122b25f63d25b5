"""recompute.recomputed: gradients equal autograd through the function itself (float64, and under bf16 autocast),
while only the inputs are kept for backward."""

import pytest
import torch
import torch.nn.functional as F

from simba_music.modeling.recompute import recomputed
from simba_music.modeling.ssm import _gated_rms_norm


def _causal_conv1d_silu(x, weight, bias):
    """A function with intermediates worth dropping: a padded copy and a pre-activation."""
    padded = F.pad(x, (weight.shape[-1] - 1, 0))
    return F.silu(F.conv1d(padded, weight.unsqueeze(1).to(x.dtype), bias, groups=x.shape[1]))


def saved_bytes(function, *inputs) -> int:
    """Bytes of every tensor autograd saves while `function(*inputs)` runs (views counted at their own size)."""
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(*inputs)
    return total[0]


def conv_inputs(dtype=torch.float64, bias=True):
    x = torch.randn(2, 12, 30, dtype=dtype, requires_grad=True)
    weight = torch.randn(12, 4, dtype=dtype, requires_grad=True)
    return x, weight, (torch.randn(12, dtype=dtype, requires_grad=True) if bias else None)


def norm_inputs(dtype=torch.float64):
    return (torch.randn(2, 30, 16, dtype=dtype, requires_grad=True),
            torch.randn(2, 30, 16, dtype=dtype, requires_grad=True),
            torch.randn(16, dtype=dtype, requires_grad=True), 8, 1e-5)


CASES = {"conv": (_causal_conv1d_silu, conv_inputs), "conv_no_bias": (_causal_conv1d_silu,
                                                                       lambda: conv_inputs(bias=False)),
         "gated_norm": (_gated_rms_norm, norm_inputs)}


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_equal_autograd_through_the_function(case):
    function, make_inputs = CASES[case]
    inputs = make_inputs()
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    grad = torch.randn_like(function(*inputs))
    expected = torch.autograd.grad(function(*inputs), tensors, grad)
    output = recomputed(function, *inputs)
    assert torch.equal(output, function(*inputs))
    for got, want in zip(torch.autograd.grad(output, tensors, grad), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: recomputed(function, *t, *inputs[len(tensors):]), tensors)


@pytest.mark.parametrize("case", list(CASES))
def test_keeps_only_its_inputs(case):
    function, make_inputs = CASES[case]
    inputs = make_inputs()
    input_bytes = sum(x.numel() * x.element_size() for x in inputs if isinstance(x, torch.Tensor))
    plain, lean = saved_bytes(function, *inputs), saved_bytes(lambda *a: recomputed(function, *a), *inputs)
    assert lean == input_bytes
    assert plain > 1.5 * lean, (plain, lean)  # what it saves: the padded copy / the pre-activations


def test_bf16_autocast_recomputes_the_same_values():
    x, weight, bias = conv_inputs(torch.float32)
    grad = torch.randn(2, 12, 30)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = _causal_conv1d_silu(x, weight, bias)
        lean = recomputed(_causal_conv1d_silu, x, weight, bias)
    assert plain.dtype == lean.dtype == torch.bfloat16
    expected = torch.autograd.grad(plain, (x, weight, bias), grad.bfloat16())
    got = torch.autograd.grad(lean, (x, weight, bias), grad.bfloat16())
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_no_grad_and_frozen_inputs_call_the_function_directly():
    x = torch.randn(1, 4, 6)
    weight, bias = torch.randn(4, 3), None
    with torch.no_grad():
        assert recomputed(_causal_conv1d_silu, x.requires_grad_(), weight, bias).grad_fn is None
    assert recomputed(_causal_conv1d_silu, x.detach(), weight, bias).grad_fn is None
    assert torch.equal(recomputed(F.silu, x.detach()), F.silu(x.detach()))
