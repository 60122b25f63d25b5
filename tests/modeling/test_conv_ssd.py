"""conv_ssd.ConvSSDScanFunction (SiLU(causal conv) -> split -> SSD scan + D x, recomputing the convolution in its
backward) against an independent composition: F.conv1d + SiLU, then the float64 step-by-step recurrence. Values and
gradients of every input, what the Function keeps for backward, the dispatch in `kernels.conv_ssd_scan`, and bf16."""

import pytest
import torch

from simba_music.modeling import kernels, torch_kernels
from simba_music.modeling.conv_ssd import SSDLayout

from .test_causal_conv import reference as conv_reference
from .test_torch_kernels import naive_ssd

LAYOUT = SSDLayout(heads=4, head_dim=3, groups=2, state_size=5)
CHANNELS = 4 * 3 + 2 * 2 * 5


def _inputs(length, use_bias=True, initial=True, dtype=torch.float64):
    b = 2
    return dict(xBC=torch.randn(b, length, CHANNELS, dtype=dtype), weight=torch.randn(CHANNELS, 4, dtype=dtype) / 2,
                bias=torch.randn(CHANNELS, dtype=dtype) if use_bias else None,
                dt=torch.rand(b, length, 4, dtype=dtype), A=-torch.rand(4, dtype=dtype) * 2,
                D=torch.randn(4, dtype=dtype),
                initial=torch.randn(b, 4, 3, 5, dtype=dtype) if initial else None)


def _reference(xBC, weight, bias, dt, A, D, initial):
    x, B, C = LAYOUT.split(conv_reference(xBC, weight, bias))
    return naive_ssd(x, dt, A, B, C, D, initial)


def _ours(xBC, weight, bias, dt, A, D, initial):
    return torch_kernels.conv_ssd_scan(xBC, weight, bias, dt, A, D, 16, LAYOUT, initial)


@pytest.mark.parametrize("use_bias, initial, final_used", [(True, True, True), (False, False, False)])
def test_values_and_gradients_equal_the_composed_recurrence(use_bias, initial, final_used):
    """37 steps in chunks of 16 (padding, several chunks), two groups; with and without bias, initial state and a
    gradient on the final state."""
    inputs = _inputs(37, use_bias, initial)
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items() if v is not None}
    references = {k: v.clone().requires_grad_() for k, v in inputs.items() if v is not None}
    y_weight, state_weight = torch.randn(2, 37, 4, 3, dtype=torch.float64), torch.randn(2, 4, 3, 5, dtype=torch.float64)
    results = []
    for function, tensors in ((_ours, leaves), (_reference, references)):
        y, state = function(*(tensors.get(k) for k in inputs))
        loss = (y * y_weight).sum() + ((state * state_weight).sum() if final_used else 0)
        loss.backward()
        results.append((y, state))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-10, atol=1e-10)
    for name in leaves:
        torch.testing.assert_close(leaves[name].grad, references[name].grad, rtol=1e-9, atol=1e-9, msg=name)


def test_gradcheck():
    """Finite differences (fast mode: random directions) over 6 steps in chunks of 4."""
    inputs = _inputs(6)
    leaves = [inputs[k].requires_grad_() for k in inputs]
    assert torch.autograd.gradcheck(lambda *a: torch_kernels.conv_ssd_scan(*a[:6], 4, LAYOUT, a[6]), leaves,
                                    fast_mode=True)


def test_backward_keeps_the_convolution_input_not_its_output():
    inputs = {k: v.float().requires_grad_() for k, v in _inputs(300).items()}
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y, _ = _ours(*inputs.values())
    assert y.grad_fn.name() == "ConvSSDScanFunctionBackward"
    input_storages = {t.untyped_storage().data_ptr() for t in inputs.values()}
    assert {t.untyped_storage().data_ptr() for t in saved} <= input_storages
    assert sum(t.numel() for t in saved) == sum(t.numel() for t in inputs.values())


def test_dispatch_trains_through_the_function_and_matches_the_two_ops_alone():
    inputs = {k: v.float() for k, v in _inputs(40).items()}
    inputs["initial"] = None
    xBC, weight, bias, dt, A, D, _ = inputs.values()
    with torch.no_grad():
        y_plain, state_plain, window_plain = kernels.conv_ssd_scan(xBC, weight, bias, dt, A, D, 16, LAYOUT)
    y, state, window = kernels.conv_ssd_scan(xBC, weight.requires_grad_(), bias, dt, A, D, 16, LAYOUT)
    assert y.grad_fn.name() == "ConvSSDScanFunctionBackward"
    torch.testing.assert_close(y, y_plain)
    torch.testing.assert_close(state, state_plain)
    assert torch.equal(window, window_plain) and torch.equal(window, xBC[:, -4:].transpose(1, 2))
    short = kernels.conv_ssd_scan(xBC[:, :2], weight, bias, dt[:, :2], A, D, 16, LAYOUT)[2]
    assert torch.equal(short[..., :2], torch.zeros(2, CHANNELS, 2)) and torch.equal(short[..., 2:],
                                                                                     xBC[:, :2].transpose(1, 2))


def test_bf16_autocast_follows_float32():
    inputs = {k: v.float() for k, v in _inputs(64).items()}
    grads = []
    for autocast in (False, True):
        leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        xBC = leaves["xBC"].bfloat16() if autocast else leaves["xBC"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y, state = _ours(xBC, *list(leaves.values())[1:])
        assert y.dtype == (torch.bfloat16 if autocast else torch.float32) and state.dtype == torch.float32
        (y.float().square().mean() + state.square().mean()).backward()
        grads.append({k: v.grad for k, v in leaves.items()})
    for name in inputs:
        scale = grads[0][name].abs().max()
        assert (grads[1][name] - grads[0][name]).abs().max() <= 0.05 * scale, name
