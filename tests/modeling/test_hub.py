import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import simba_music.modeling
from simba_music.modeling.hub import AUTO_MAP, variant_name

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")

MODELING = Path(simba_music.modeling.__file__).parent


def test_push_to_hub_offline_uploads_weights_processor_and_a_model_card(t5_model, fake_api):
    model, processor = t5_model
    model.push_to_hub("tiny-simba-music", processor=processor, tags=["demo"])
    (commit,) = fake_api.commits
    assert commit["repo_id"] == "someone/tiny-simba-music"
    assert {"config.json", "model.safetensors", "generation_config.json", "README.md", "processor_config.json",
            "tokenizer.json"} <= set(commit["files"])
    card = commit["files"]["README.md"].decode()
    for expected in ("pipeline_tag: text-to-audio", "- demo", "Prefix SiMBA", "encodec at 8000 Hz", "12.5 frames/s",
                     "(t5)", "## Intended use", "## How to generate", 'pipeline("text-to-music", '
                     'model="someone/tiny-simba-music")', "top-k 250, temperature 1.2, classifier-free guidance"):
        assert expected in card, expected
    config = json.loads(commit["files"]["config.json"])
    assert config["auto_map"] == AUTO_MAP and config["model_type"] == "simba_music_t2m"


def test_saved_config_carries_auto_map_for_every_auto_class(t5_model, tmp_path):
    model, _ = t5_model
    model.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForTextToWaveform"}


def test_variant_names():
    def config(pattern, conditioning, hybrid=()):
        return SimpleNamespace(block_pattern=pattern, conditioning=conditioning, hybrid_attention_layers=list(hybrid))

    assert variant_name(config(["mamba2", "cross_attention", "mlp"], "cross_attention")) == "Cross SiMBA"
    assert variant_name(config(["mamba2", "mlp"], "prefix", [1])) == \
        "Prefix SiMBA, hybrid attention in layers [1]"
    assert variant_name(config(["mamba", "mlp"], "prefix")).startswith("custom block pattern")


REMOTE_LOAD = """
import sys
from types import SimpleNamespace
sys.modules["simba_music"] = None  # as if simba-music were not installed
try:
    import simba_music
    raise SystemExit("simba_music is importable")
except ImportError:
    pass
from transformers import AutoModelForTextToWaveform, AutoProcessor
model = AutoModelForTextToWaveform.from_pretrained(sys.argv[1], trust_remote_code=True)
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
output = model.generate(**processor(["calm piano"]), max_new_tokens=6, seed=3, progress_bar=False)
print(type(model).__module__.split(".")[0], output.sequences.flatten().tolist())
"""


@pytest.mark.slow
def test_trust_remote_code_loads_without_the_package(saved_dir, t5_model, tmp_path):
    model, processor = t5_model
    expected = model.generate(**processor(["calm piano"]), max_new_tokens=6, seed=3, progress_bar=False)
    environment = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", REMOTE_LOAD, str(saved_dir)], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-2] == f"transformers_modules {expected.sequences.flatten().tolist()}"


def test_saved_remote_code_is_the_modeling_folder_unchanged(saved_dir):
    modules = sorted(p.name for p in MODELING.glob("*.py") if p.name != "__init__.py")
    assert sorted(p.name for p in Path(saved_dir).glob("*.py")) == modules
    for name in modules:
        assert (Path(saved_dir) / name).read_bytes() == (MODELING / name).read_bytes(), name
    for auto_class, target in AUTO_MAP.items():
        assert f"{target.split('.')[0]}.py" in modules, auto_class


def test_modeling_folder_imports_only_its_own_modules_one_level_deep():
    """transformers' remote-code loader copies a module's dependencies by reading `from .name import` lines; any
    other way of reaching the package would load where simba-music is installed and fail where it is not."""
    modules = {p.stem for p in MODELING.glob("*.py")}
    for path in MODELING.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "simba_music" for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "simba_music", path.name
                if node.level:  # relative: exactly `from .module import name`, a module of this folder
                    assert node.level == 1 and node.module in modules, f"{path.name}: line {node.lineno}"
