"""modeling/loading.py: loaded CPU weights are realigned, so a saved model reproduces its outputs bit for bit."""

import pytest
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


def test_missing_weights_fail_unless_not_strict_which_loads_as_transformers_does(tmp_path):
    """Loading is strict (docs/REFERENCE.md): a head missing from the checkpoint would be left random. With
    strict=False the model loads and the report lists what transformers lists."""
    from safetensors.torch import save_file

    model = SimbaMusicForCausalLM(tiny_config()).eval()
    model.model.save_pretrained(tmp_path / "base")  # the base model's weights only: no lm_head
    with pytest.raises(ValueError, match=r"1 missing \['lm_head\.0\.weight'\], 0 unexpected \[\]; pass strict=False"):
        SimbaMusicForCausalLM.from_pretrained(tmp_path / "base")
    loaded, info = SimbaMusicForCausalLM.from_pretrained(tmp_path / "base", strict=False, output_loading_info=True)
    assert set(info["missing_keys"]) == {"lm_head.0.weight"} and not info["unexpected_keys"]
    saved = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        if name != "lm_head.0.weight":
            assert torch.equal(tensor, saved[name]), name

    # Every weight replaced by a stranger: all of them are missing, one is unexpected.
    model.save_pretrained(tmp_path / "foreign")
    save_file({"tensor": torch.tensor([1, 2])}, str(tmp_path / "foreign" / "model.safetensors"),
              metadata={"format": "pt"})
    count = len(saved)
    with pytest.raises(ValueError, match=rf"{count} missing .*, 1 unexpected \['tensor'\]"):
        SimbaMusicForCausalLM.from_pretrained(tmp_path / "foreign")
    _, info = SimbaMusicForCausalLM.from_pretrained(tmp_path / "foreign", strict=False, output_loading_info=True)
    assert set(info["missing_keys"]) == set(saved) and set(info["unexpected_keys"]) == {"tensor"}
