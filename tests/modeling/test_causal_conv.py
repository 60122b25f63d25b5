"""causal_conv.causal_conv1d_silu against an independent reference (F.conv1d with groups = channels): values and
gradients in float64, gradcheck, bf16, and the [B, C, L] interface of torch_kernels.causal_conv1d with its state."""

import pytest
import torch
import torch.nn.functional as F

from simba_music.modeling.causal_conv import causal_conv1d_silu
from simba_music.modeling.torch_kernels import causal_conv1d


def reference(x_blc, weight, bias):
    x = x_blc.transpose(1, 2)
    out = F.conv1d(F.pad(x, (weight.shape[-1] - 1, 0)), weight.unsqueeze(1), bias, groups=x.shape[1])
    return F.silu(out).transpose(1, 2)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("taps", [2, 4])
@pytest.mark.parametrize("length", [23, 2])
def test_values_and_gradients_equal_conv1d(use_bias, taps, length):
    x = torch.randn(2, length, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(6, taps, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True) if use_bias else None
    inputs = [t for t in (x, weight, bias) if t is not None]
    grad = torch.randn(2, length, 6, dtype=torch.float64)
    ours, theirs = causal_conv1d_silu(x, weight, bias), reference(x, weight, bias)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for got, want in zip(torch.autograd.grad(ours, inputs, grad), torch.autograd.grad(theirs, inputs, grad),
                         strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: causal_conv1d_silu(*t, *([None] if bias is None else [])), inputs)


def test_causal_an_input_moves_only_later_outputs():
    x = torch.randn(1, 20, 3, dtype=torch.float64, requires_grad=True)
    out = causal_conv1d_silu(x, torch.randn(3, 4, dtype=torch.float64), None)
    (grad_x,) = torch.autograd.grad(out[:, 9].sum(), x)
    assert grad_x[:, 10:].abs().max() == 0 and grad_x[:, 6:10].abs().min() > 0


def test_bf16_input_with_float32_weights():
    x = torch.randn(2, 17, 8).bfloat16().requires_grad_()
    weight, bias = torch.randn(8, 4, requires_grad=True), torch.randn(8, requires_grad=True)
    out = causal_conv1d_silu(x, weight, bias)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), reference(x.float(), weight, bias), rtol=0.03, atol=0.03)
    out.float().sum().backward()
    assert (x.grad.dtype, weight.grad.dtype, bias.grad.dtype) == (torch.bfloat16, torch.float32, torch.float32)


@pytest.mark.parametrize("length", [2, 9])
def test_channels_first_interface_and_its_state(length):
    """torch_kernels.causal_conv1d takes [B, C, L]; its state is the last K inputs, left-padded with zeros."""
    x = torch.randn(2, 5, length)
    weight, bias = torch.randn(5, 4), torch.randn(5)
    out, state = causal_conv1d(x, weight, bias)
    torch.testing.assert_close(out, reference(x.transpose(1, 2), weight, bias).transpose(1, 2))
    expected_state = F.pad(x, (4, 0))[..., -4:]
    assert torch.equal(state, expected_state)
    continued, _ = causal_conv1d(torch.randn(2, 5, 3), weight, bias, conv_state=state)
    assert continued.shape == (2, 5, 3)
