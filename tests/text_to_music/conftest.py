import pytest
import torch

from simba_music import SimbaMusicProcessor
from simba_music.testing_utils import tiny_text_to_music, tiny_tokenizer


@pytest.fixture(autouse=True)
def _one_thread():
    # A generation step of these tiny models is a few dozen small ops: one thread is ~5x faster than two on a
    # shared machine, and the loops here run hundreds of steps.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(kind: str = "t5", **overrides):
    model = tiny_text_to_music(kind, **overrides)
    # A random decoder is nearly uniform: sharper logits make greedy/argmax comparisons meaningful. (It also barely
    # listens to its prefix beyond the SSM convolution window, so guidance effects show only at large scales.)
    with torch.no_grad():
        for head in model.decoder.lm_head:
            head.weight.mul_(20)
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer(kind=kind))
    return model, processor


@pytest.fixture(scope="module")
def t5_model():
    return build("t5")


@pytest.fixture(scope="module")
def bert_model():
    return build("bert")


@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory, t5_model):
    """The T5 model and its processor saved to a folder."""
    model, processor = t5_model
    directory = tmp_path_factory.mktemp("t2m")
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
