"""recipes/: the configs build the decoders the recipe trains, and assemble.py turns a decoder into a model that
loads and generates."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModel

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, SimbaMusicForConditionalGeneration
from simba_music_lab.codec.pretrained import CHORALE_CODEC, WAVTOKENIZER_CODEC, pretrained_codec_path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("name", ["prefix_simba", "cross_transformer", "cross_simba"])
def test_configs_build_decoders_of_comparable_size(name):
    config = SimbaMusicConfig(**json.loads((RECIPES / "configs" / f"{name}.json").read_text()))
    with torch.device("meta"):
        parameters = sum(p.numel() for p in SimbaMusicForCausalLM(config).parameters())
    assert 5.9e6 < parameters < 6.7e6, parameters  # within 5% of each other: the comparison is fair


@pytest.mark.slow
@pytest.mark.parametrize("codec", [None, WAVTOKENIZER_CODEC, "a copy outside the package"])
def test_assemble_makes_a_model_that_loads_and_generates(tmp_path, codec):
    config = json.loads((RECIPES / "configs" / "prefix_simba.json").read_text())
    config.update(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, num_attention_heads=2, chunk_size=8)
    SimbaMusicForCausalLM(SimbaMusicConfig(**config)).save_pretrained(tmp_path / "decoder")
    codec_folder = pretrained_codec_path(WAVTOKENIZER_CODEC if codec else CHORALE_CODEC)
    if codec == "a copy outside the package":
        codec_folder = Path(shutil.copytree(codec_folder, tmp_path / "codec"))
    codec_arguments = [] if codec is None else ["--codec", str(codec_folder)]
    result = subprocess.run([sys.executable, str(RECIPES / "assemble.py"), "--decoder", str(tmp_path / "decoder"),
                             "--output", str(tmp_path / "model"), *codec_arguments],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["max_logit_change_from_float16_storage"] < 0.05, report
    model = SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model").eval()
    assert model.audio_encoder.config.model_type == ("encodec" if codec is None else "wavtokenizer")
    # A shipped codec is referenced (the package carries its weights once); any other is saved with the model.
    shipped = codec != "a copy outside the package"
    package = "simba_music" if codec is None else "simba_music_lab"
    assert model.config.audio_encoder_source == (f"python:{package}/pretrained/{codec_folder.name}" if shipped
                                                 else None)
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        names = weights.keys()
    assert any(name.startswith("audio_encoder.") for name in names) is not shipped
    reference = AutoModel.from_pretrained(codec_folder).state_dict()
    for name, tensor in model.audio_encoder.state_dict().items():
        assert torch.equal(tensor, reference[name].float()), name
    assert model.generation_config.guidance_scale == 5.0
    from transformers import AutoProcessor
    processor = AutoProcessor.from_pretrained(tmp_path / "model")
    inputs = processor(text=["a slow chorale"], return_tensors="pt")
    audio = model.generate(**inputs, max_new_tokens=8, do_sample=False, progress_bar=False).audio
    assert audio.shape[:2] == (1, 1) and audio.shape[-1] > 0 and torch.isfinite(audio).all()
