import os

# Set before anything imports huggingface_hub (it reads HF_HUB_OFFLINE once). Tests compare runs number for number, so
# the thread count must not follow the machine's load (tests/modeling/test_threads.py turns the fitting on there).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SIMBA_MUSIC_FIT_THREADS", "0")
# The record of files simba-music wrote (io_utils.record_written_file) lives in a folder of the test session's own,
# never the user's.
os.environ.setdefault("SIMBA_MUSIC_STATE_DIR", __import__("tempfile").mkdtemp(prefix="simba-music-test-state-"))

from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402
from transformers.utils import hub  # noqa: E402

from simba_music import SimbaMusicConfig  # noqa: E402
from simba_music.testing_fixtures import _seed_and_threads, one_thread  # noqa: E402, F401  (for every test)
from simba_music.testing_utils import tiny_model_and_processor  # noqa: E402

VARIANTS = {
    "prefix_mamba": dict(block_pattern=["mamba2", "mamba2"], conditioning="prefix"),
    "prefix_simba": dict(block_pattern=["mamba2", "mlp"], conditioning="prefix"),
    "cross_simba": dict(block_pattern=["mamba2", "cross_attention", "mlp"], conditioning="cross_attention"),
    "cross_transformer": dict(block_pattern=["attention", "cross_attention", "mlp"], conditioning="cross_attention"),
    "original_simba": dict(block_pattern=["mamba", "einfft"], conditioning="prefix"),
    "prefix_simba_hybrid": dict(block_pattern=["mamba2", "mlp"], conditioning="prefix", hybrid_attention_layers=[1]),
}


def tiny_config(variant: str = "prefix_simba", **overrides) -> SimbaMusicConfig:
    kwargs = dict(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, num_attention_heads=4,
                  text_hidden_size=24, vocab_size=65, special_token_id=64, chunk_size=8, einfft_num_blocks=4)
    kwargs.update(VARIANTS[variant])
    kwargs.update(overrides)
    return SimbaMusicConfig(**kwargs)


class FakeHfApi:
    """Records what push_to_hub would send to the Hub."""

    def __init__(self):
        self.commits = []

    def whoami(self, **kwargs):
        return {"name": "someone"}

    def create_repo(self, repo_id, **kwargs):
        return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"someone/{repo_id}")

    def create_branch(self, **kwargs):
        pass

    def create_commit(self, repo_id, operations, commit_message, **kwargs):
        files = {}
        for operation in operations:
            with open(operation.path_or_fileobj, "rb") as handle:
                files[operation.path_in_repo] = handle.read()
        self.commits.append(dict(repo_id=repo_id, message=commit_message, files=files, **kwargs))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/0")


@pytest.fixture
def fake_api(monkeypatch):
    api = FakeHfApi()
    monkeypatch.setattr(hub, "hf_api", lambda: api)
    return api


@pytest.fixture(scope="module")
def t5_model():
    """A tiny random composite with a T5 encoder, and its processor (`tiny_model_and_processor`)."""
    return tiny_model_and_processor("t5")


@pytest.fixture(scope="module")
def bert_model():
    return tiny_model_and_processor("bert")


@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory, t5_model):
    """The T5 model and its processor saved to a folder."""
    model, processor = t5_model
    directory = tmp_path_factory.mktemp("t2m")
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
