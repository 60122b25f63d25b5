"""The chunked / blocked scans against a plain step-by-step recurrence written from the equations."""

import pytest
import torch

from simba_music.modeling import ssd_chunked, torch_kernels


def naive_ssd(x, dt, A, B, C, D, state=None):
    batch, length, heads, head_dim = x.shape
    per_group = heads // B.shape[2]
    B, C = B.repeat_interleave(per_group, 2), C.repeat_interleave(per_group, 2)
    state = torch.zeros(batch, heads, head_dim, B.shape[-1], dtype=x.dtype) if state is None else state.to(x.dtype)
    ys = []
    for t in range(length):
        decay = torch.exp(dt[:, t] * A)[..., None, None]
        state = state * decay + (x[:, t] * dt[:, t, :, None])[..., None] * B[:, t, :, None, :]
        ys.append((state * C[:, t, :, None, :]).sum(-1) + x[:, t] * D[:, None])
    return torch.stack(ys, 1), state


def naive_selective(u, delta, A, B, C, D, z):
    state = torch.zeros(u.shape[0], u.shape[1], A.shape[1], dtype=torch.float64)
    ys = []
    for t in range(u.shape[-1]):
        state = state * torch.exp(delta[..., t, None] * A) + (delta[..., t] * u[..., t])[..., None] * B[:, None, :, t]
        ys.append((state * C[:, None, :, t]).sum(-1) + u[..., t] * D)
    y = torch.stack(ys, -1) * torch.nn.functional.silu(z)
    return y, state


@pytest.mark.parametrize("length,chunk", [(1, 4), (13, 4), (16, 16), (37, 8)])
def test_ssd_scan_matches_recurrence(length, chunk):
    b, h, p, g, n = 2, 4, 3, 2, 5
    x = torch.randn(b, length, h, p, dtype=torch.float64)
    dt = torch.rand(b, length, h, dtype=torch.float64)
    A = -torch.rand(h, dtype=torch.float64) * 3
    B, C = torch.randn(b, length, g, n, dtype=torch.float64), torch.randn(b, length, g, n, dtype=torch.float64)
    D = torch.randn(h, dtype=torch.float64)
    initial = torch.randn(b, h, p, n, dtype=torch.float64)
    y, state = torch_kernels.ssd_scan(x.float(), dt.float(), A.float(), B.float(), C.float(), D.float(), chunk,
                                      initial.float())
    y_ref, state_ref = naive_ssd(x, dt, A, B, C, D, initial)
    torch.testing.assert_close(y.double(), y_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(state.double(), state_ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("groups", [1, 2])
def test_ssd_step_continues_the_scan(groups, monkeypatch):
    """Steps held back and folded every 3 steps give the scan's outputs and, once settled, its final state."""
    b, length, h, p, n = 2, 17, 4, 3, 5
    x, dt = torch.randn(b, length, h, p), torch.rand(b, length, h)
    A, D = -torch.rand(h) * 3, torch.randn(h)
    B, C = torch.randn(b, length, groups, n), torch.randn(b, length, groups, n)
    y_full, final = torch_kernels.ssd_scan(x, dt, A, B, C, D, chunk_size=4)
    _, state = torch_kernels.ssd_scan(x[:, :5], dt[:, :5], A, B[:, :5], C[:, :5], D, chunk_size=4)
    deferred = torch_kernels.DeferredUpdates.empty(state, groups, window=3)
    monkeypatch.setattr(torch_kernels, "SSD_DEFER_MIN_STATE", 0)  # tiny states too take the deferred path
    for t in range(5, length):
        y_t = torch_kernels.ssd_state_step(state, x[:, t], dt[:, t], A, B[:, t], C[:, t], D, deferred)
        torch.testing.assert_close(y_t, y_full[:, t], atol=1e-5, rtol=1e-5)
    assert deferred.count == (length - 5) % 3
    deferred.fold_into(state)
    torch.testing.assert_close(state, final, atol=1e-5, rtol=1e-5)


def test_small_states_take_the_in_place_step():
    b, h, p, n = 2, 4, 3, 5
    state = torch.randn(b, h, p, n)
    reference = state.clone()
    deferred = torch_kernels.DeferredUpdates.empty(state, 1)
    x, dt, A, B, C, D = torch.randn(b, h, p), torch.rand(b, h), -torch.rand(h), torch.randn(b, 1, n), \
        torch.randn(b, 1, n), torch.randn(h)
    y = torch_kernels.ssd_state_step(state, x, dt, A, B, C, D, deferred)
    expected_state = reference * torch.exp(dt * A)[..., None, None] + (x * dt[..., None])[..., None] * B[:, :, None]
    torch.testing.assert_close(state, expected_state)
    torch.testing.assert_close(y, (expected_state * C[:, :, None]).sum(-1) + x * D[:, None])
    assert deferred.count == 0


@pytest.mark.parametrize("length,block", [(1, 32), (45, 8), (64, 32)])
def test_selective_scan_matches_recurrence(length, block):
    b, d, n = 2, 6, 4
    u, delta = torch.randn(b, d, length, dtype=torch.float64), torch.rand(b, d, length, dtype=torch.float64)
    A = -torch.rand(d, n, dtype=torch.float64) * 2
    B, C = torch.randn(b, n, length, dtype=torch.float64), torch.randn(b, n, length, dtype=torch.float64)
    D, z = torch.randn(d, dtype=torch.float64), torch.randn(b, d, length, dtype=torch.float64)
    y, state = torch_kernels.selective_scan(u.float(), delta.float(), A.float(), B.float(), C.float(), D.float(),
                                            z.float(), block=block)
    y_ref, state_ref = naive_selective(u, delta, A, B, C, D, z)
    torch.testing.assert_close(y.double(), y_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(state.double(), state_ref, atol=1e-4, rtol=1e-4)


def test_causal_conv_state_continues():
    x, weight, bias = torch.randn(2, 6, 11), torch.randn(6, 4), torch.randn(6)
    full, _ = torch_kernels.causal_conv1d(x, weight, bias)
    first, state = torch_kernels.causal_conv1d(x[..., :2], weight, bias)
    assert state.shape == (2, 6, 4)
    rest, _ = torch_kernels.causal_conv1d(x[..., 2:7], weight, bias, state)
    steps = [torch_kernels.causal_conv1d_step(x[..., t], state, weight, bias) for t in range(2, 11)]
    torch.testing.assert_close(rest, full[..., 2:7])
    torch.testing.assert_close(torch.stack(steps, -1), full[..., 2:])


def test_scan_gradients_match_the_recurrence():
    b, length, h, p, g, n = 1, 11, 2, 3, 1, 4
    inputs = [torch.randn(b, length, h, p, dtype=torch.float64), torch.rand(b, length, h, dtype=torch.float64),
              -torch.rand(h, dtype=torch.float64) * 2, torch.randn(b, length, g, n, dtype=torch.float64),
              torch.randn(b, length, g, n, dtype=torch.float64), torch.randn(h, dtype=torch.float64)]
    weights = torch.randn(b, length, h, p, dtype=torch.float64)
    grads = []
    for scan in (lambda *a: torch_kernels.ssd_scan(*a, chunk_size=4)[0], lambda *a: naive_ssd(*a)[0]):
        leaves = [t.clone().float().requires_grad_() for t in inputs]
        (scan(*leaves) * weights.float()).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for ours, reference in zip(*grads, strict=True):
        torch.testing.assert_close(ours, reference.float(), atol=1e-4, rtol=1e-4)


def _selective_inputs(length=11, b=2, d=3, n=4):
    return [torch.randn(b, d, length, dtype=torch.float64), torch.rand(b, d, length, dtype=torch.float64),
            -torch.rand(d, n, dtype=torch.float64) * 2, torch.randn(b, n, length, dtype=torch.float64),
            torch.randn(b, n, length, dtype=torch.float64), torch.randn(d, dtype=torch.float64),
            torch.randn(b, d, length, dtype=torch.float64)]


def test_selective_scan_backward_passes_finite_differences():
    """The hand-written backward, over several blocks, with an initial state and a gradient on the final state."""
    leaves = [t.requires_grad_() for t in _selective_inputs()[:5]] + [torch.randn(2, 3, 4, dtype=torch.float64,
                                                                                 requires_grad=True)]
    assert torch.autograd.gradcheck(lambda *a: torch_kernels.SelectiveScanFunction.apply(*a, 4), leaves)


def test_selective_scan_gradients_match_the_recurrence():
    inputs = _selective_inputs(length=13)
    grads = []
    for scan in (lambda *a: torch_kernels.selective_scan(*a, block=4)[0], lambda *a: naive_selective(*a)[0]):
        leaves = [t.clone().requires_grad_() for t in inputs]
        scan(*leaves).square().sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for ours, reference in zip(*grads, strict=True):
        torch.testing.assert_close(ours, reference)


def _ssd_inputs(length, b=2, h=4, p=3, g=2, n=5, dtype=torch.float64):
    return [torch.randn(b, length, h, p, dtype=dtype), torch.rand(b, length, h, dtype=dtype),
            -torch.rand(h, dtype=dtype) * 2, torch.randn(b, length, g, n, dtype=dtype),
            torch.randn(b, length, g, n, dtype=dtype), torch.randn(b, h, p, n, dtype=dtype)]


@pytest.mark.slow
def test_ssd_backward_passes_finite_differences():
    """Padding (11 steps in chunks of 4), two groups, an initial state and a gradient on the final state."""
    leaves = [t.requires_grad_() for t in _ssd_inputs(11)]
    assert torch.autograd.gradcheck(lambda *a: ssd_chunked.SSDScanFunction.apply(*a, 4), leaves)


@pytest.mark.parametrize("length", [37, 64])
def test_ssd_backward_matches_autograd_through_the_recurrence(length):
    """float32 chunks of 16 (padding, several chunks) against autograd through the float64 step-by-step recurrence."""
    inputs = _ssd_inputs(length, h=8, p=4, n=6, dtype=torch.float32)
    weights = torch.randn(2, length, 8, 4), torch.randn(2, 8, 4, 6)
    ours = [t.clone().requires_grad_() for t in inputs]
    reference = [t.double().requires_grad_() for t in inputs]
    no_skip = torch.zeros(8, dtype=torch.float64)
    for scan, leaves in ((lambda *a: ssd_chunked.SSDScanFunction.apply(*a, 16), ours),
                         (lambda *a: naive_ssd(*a[:5], no_skip, a[5]), reference)):
        y, state = scan(*leaves)
        ((y * weights[0].to(y.dtype)).sum() + (state * weights[1].to(y.dtype)).sum()).backward()
    for leaf, reference_leaf in zip(ours, reference, strict=True):
        torch.testing.assert_close(leaf.grad.double(), reference_leaf.grad, atol=1e-4, rtol=1e-4)
