"""modeling/loading.py: loaded CPU weights are realigned, so a saved model reproduces its outputs bit for bit."""

import torch
from torch import nn

from simba_music import SimbaMusicForCausalLM
from simba_music.modeling.loading import CPU_ALIGNMENT, align_cpu_weights
from tests.conftest import tiny_config


def misaligned_copy(tensor: torch.Tensor, offset_elements: int = 3) -> torch.Tensor:
    buffer = torch.empty(tensor.numel() + offset_elements, dtype=tensor.dtype)
    view = buffer[offset_elements:].view(tensor.shape)
    view.copy_(tensor)
    return view


def test_misaligned_weights_are_moved_keeping_values_and_sharing():
    model = nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 6))
    shared = misaligned_copy(model[0].weight.data)
    model[0].weight.data = shared
    model[1].weight = nn.Parameter(shared.t())  # a second parameter over the same storage
    model[0].register_buffer("table", misaligned_copy(torch.arange(5.0)))
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    assert model[0].weight.data_ptr() % CPU_ALIGNMENT != 0
    align_cpu_weights(model)
    for name, tensor in model.state_dict().items():
        assert tensor.data_ptr() % CPU_ALIGNMENT == 0, name
        assert torch.equal(tensor, before[name]), name
    # Still one storage under both weights, seen transposed by the second.
    assert model[1].weight.data_ptr() == model[0].weight.data_ptr()
    assert model[1].weight.stride() == (1, 6)
    model[0].weight.data[0, 1] = 123.0
    assert model[1].weight[1, 0] == 123.0


def test_saved_and_loaded_decoder_reproduces_its_logits_exactly(tmp_path):
    model = SimbaMusicForCausalLM(tiny_config("cross_transformer")).eval()
    model.save_pretrained(tmp_path)
    loaded = SimbaMusicForCausalLM.from_pretrained(tmp_path).eval()
    assert all(p.data_ptr() % CPU_ALIGNMENT == 0 for p in loaded.parameters())
    ids, text = torch.randint(0, 64, (2, 7)), torch.randn(2, 5, 24)
    with torch.no_grad():
        assert torch.equal(model(ids, encoder_hidden_states=text).logits,
                           loaded(ids, encoder_hidden_states=text).logits)
