"""recompute.recomputed: gradients equal autograd through the function itself (float64, and under bf16 autocast),
while only the inputs are kept for backward."""

import pytest
import torch
import torch.nn.functional as F

from simba_music.modeling.linear import Linear
from simba_music.modeling.recompute import linear_of_recomputed, recomputed
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


def projected_case(bias: bool, dtype=torch.float64):
    """A gated norm feeding a linear layer, as in the Mamba2 mixer (out_proj)."""
    layer = Linear(16, 5, bias=bias).to(dtype)
    return layer, norm_inputs(dtype)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_of_recomputed_gradients_equal_autograd(bias):
    layer, inputs = projected_case(bias)
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    parameters = [p for p in layer.parameters()]
    grad = torch.randn(2, 30, 5, dtype=torch.float64)
    plain = layer(_gated_rms_norm(*inputs))
    expected = torch.autograd.grad(plain, tensors + parameters, grad)
    lean = linear_of_recomputed(layer, _gated_rms_norm, *inputs)
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-12)
    for got, want in zip(torch.autograd.grad(lean, tensors + parameters, grad), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_linear_of_recomputed_passes_finite_differences():
    layer, inputs = projected_case(bias=True)
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]

    weight, bias = layer.weight.detach().clone().requires_grad_(), layer.bias.detach().clone().requires_grad_()
    del layer.weight, layer.bias  # plain tensor attributes from here on, so that gradcheck's inputs reach the layer

    def run(hidden, gate, norm_weight, weight, bias):
        layer.weight, layer.bias = weight, bias
        return linear_of_recomputed(layer, _gated_rms_norm, hidden, gate, norm_weight, *inputs[3:])
    assert torch.autograd.gradcheck(run, (*tensors, weight, bias))


def test_linear_of_recomputed_keeps_neither_the_layer_input_nor_intermediates():
    layer, inputs = projected_case(bias=True)
    input_bytes = sum(x.numel() * x.element_size() for x in inputs if isinstance(x, torch.Tensor))
    weight_bytes = layer.weight.numel() * layer.weight.element_size()
    lean = saved_bytes(lambda *a: linear_of_recomputed(layer, _gated_rms_norm, *a), *inputs)
    assert lean == input_bytes + weight_bytes
    # recomputed() alone keeps the norm's output for the layer's weight gradient.
    plain = saved_bytes(lambda *a: layer(recomputed(_gated_rms_norm, *a)), *inputs)
    assert plain >= lean + 2 * 30 * 16 * 8


def test_linear_of_recomputed_under_bf16_autocast_matches_autograd():
    layer, inputs = projected_case(bias=True, dtype=torch.float32)
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)] + list(layer.parameters())
    grad = torch.randn(2, 30, 5).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = layer(_gated_rms_norm(*inputs))
        lean = linear_of_recomputed(layer, _gated_rms_norm, *inputs)
    assert plain.dtype == lean.dtype == torch.bfloat16
    torch.testing.assert_close(lean, plain, rtol=0, atol=0)
    for got, want in zip(torch.autograd.grad(lean, tensors, grad), torch.autograd.grad(plain, tensors, grad),
                         strict=True):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)


def test_a_wrapped_layer_is_called_as_it_is():
    class Wrapped(torch.nn.Module):  # stands in for peft's LoRA wrapper, which is not an nn.Linear
        def __init__(self):
            super().__init__()
            self.base = Linear(16, 5)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return self.base(x) + 1

    layer, inputs = Wrapped(), norm_inputs(torch.float64)
    layer.double()
    out = linear_of_recomputed(layer, _gated_rms_norm, *inputs)
    assert layer.calls == 1
    torch.testing.assert_close(out, layer.base(_gated_rms_norm(*inputs)) + 1)


@pytest.mark.parametrize("kind", ["mamba", "mamba2", "mlp"])
def test_block_norm_folded_into_the_first_linear_keeps_every_gradient(kind):
    """ResidualSublayer hands its RMSNorm to ops whose first layer is one linear (RMSNorm.then): values and the
    gradients of every parameter, the norm's weight included, equal those of op(norm(x)), in float64."""
    from simba_music.modeling.blocks import ResidualSublayer
    from tests.conftest import tiny_config

    sublayer = ResidualSublayer(tiny_config(), kind, "0.0").double()
    assert sublayer.op.takes_input_norm
    with torch.no_grad():
        sublayer.norm.weight.uniform_(0.5, 1.5)  # not all ones, so a lost norm-weight gradient would show
    x = torch.randn(2, 9, 32, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 9, 32, dtype=torch.float64)
    parameters = [x, *sublayer.parameters()]
    folded = sublayer.branch(x)
    got = torch.autograd.grad(folded, parameters, grad)
    unfolded = sublayer.op(sublayer.norm(x))
    expected = torch.autograd.grad(unfolded, parameters, grad)
    torch.testing.assert_close(folded, unfolded, rtol=1e-12, atol=1e-12)
    for (name, _), a, b in zip([("x", x), *sublayer.named_parameters()], got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9, msg=name)


def test_linear_of_recomputed_trains_the_layer_alone_when_its_inputs_are_frozen():
    """Partial fine-tuning: frozen embeddings and norm, a trainable projection; only the layer gets a gradient."""
    layer, inputs = projected_case(bias=True)
    frozen = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
    grad = torch.randn(2, 30, 5, dtype=torch.float64)
    linear_of_recomputed(layer, _gated_rms_norm, *frozen).backward(grad)
    expected = torch.autograd.grad(layer(_gated_rms_norm(*frozen)), list(layer.parameters()), grad)
    for got, want in zip((layer.weight.grad, layer.bias.grad), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
