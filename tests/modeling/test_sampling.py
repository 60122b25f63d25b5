import math

import pytest
import torch

from simba_music.testing_utils import tiny_model_and_processor
from tests.conftest import VARIANTS

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")

SPECIAL = 64


def captions(processor, *texts):
    return processor(list(texts))


def reference_greedy(model, processor, texts, steps, guidance_scale):
    """Greedy decoding the slow, obvious way: re-run the whole sequence each step without a cache, and run the
    conditional and unconditional captions as separate passes."""
    conditional = processor(texts)
    empty = processor.tokenizer([""] * len(texts), padding="max_length", max_length=8, return_tensors="pt")
    text_c = model.encode_text(conditional["input_ids"], conditional["attention_mask"])
    text_u = model.encode_text(empty["input_ids"], empty["attention_mask"])
    sequence = torch.full((len(texts), 1), SPECIAL)
    for _ in range(steps):
        logits = model.decoder(sequence, encoder_hidden_states=text_c,
                               encoder_attention_mask=conditional["attention_mask"]).logits[:, -1]
        if guidance_scale != 1:
            uncond = model.decoder(sequence, encoder_hidden_states=text_u,
                                   encoder_attention_mask=empty["attention_mask"]).logits[:, -1]
            logits = uncond + guidance_scale * (logits - uncond)
        logits[:, SPECIAL] = -math.inf
        sequence = torch.cat([sequence, logits.argmax(-1, keepdim=True)], dim=1)
    return sequence[:, 1:]


@pytest.mark.parametrize("guidance_scale", [1.0, 3.0])
def test_greedy_generation_matches_uncached_reference(t5_model, guidance_scale):
    model, processor = t5_model
    texts = ["calm piano", "fast jazz drums with bass"]
    expected = reference_greedy(model, processor, texts, 12, guidance_scale)
    output = model.generate(**captions(processor, *texts), max_new_tokens=12, do_sample=False,
                            guidance_scale=guidance_scale, progress_bar=False)
    assert output.sequences.shape == (2, 1, 12)
    assert torch.equal(output.sequences[:, 0], expected)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_decoder_variant_matches_the_reference(variant):
    model, processor = tiny_model_and_processor("t5", num_attention_heads=4, **VARIANTS[variant])
    texts = ["calm piano", "fast jazz drums with bass"]
    expected = reference_greedy(model, processor, texts, 8, 3.0)
    output = model.generate(**captions(processor, *texts), max_new_tokens=8, do_sample=False, guidance_scale=3.0,
                            progress_bar=False)
    assert torch.equal(output.sequences[:, 0], expected)


def test_guidance_zero_is_the_empty_caption(t5_model):
    """guidance 0 leaves only the unconditional rows, which must be the tokenizer's encoding of ""."""
    model, processor = t5_model
    unconditional = model.generate(**captions(processor, "calm piano"), max_new_tokens=12, seed=4,
                                   guidance_scale=0.0, progress_bar=False)
    empty = processor.tokenizer([""], padding="max_length", max_length=8, return_tensors="pt")
    plain_empty = model.generate(**empty, max_new_tokens=12, seed=4, guidance_scale=1.0, progress_bar=False)
    assert torch.equal(unconditional.sequences, plain_empty.sequences)


def test_output_audio_shape_and_defaults(bert_model):
    model, processor = bert_model
    output = model.generate(**captions(processor, "slow bach chorale"), duration=1.6, seed=0, progress_bar=False)
    frames = round(1.6 * 12.5)
    assert output.sequences.shape == (1, 1, frames)
    assert output.audio.shape == (1, 1, frames * 640) and output.audio.dtype == torch.float32
    assert torch.isfinite(output.audio).all() and output.audio.abs().max() > 0
    default = model.generate(**captions(processor, "slow bach chorale"), seed=0, progress_bar=False)
    assert default.sequences.shape[-1] == 125  # 10 s from the generation config


def test_seed_determinism_and_generator(t5_model):
    model, processor = t5_model
    inputs = captions(processor, "calm piano")
    first = model.generate(**inputs, max_new_tokens=15, seed=7, progress_bar=False).sequences
    again = model.generate(**inputs, max_new_tokens=15, seed=7, progress_bar=False).sequences
    other = model.generate(**inputs, max_new_tokens=15, seed=8, progress_bar=False).sequences
    assert torch.equal(first, again) and not torch.equal(first, other)
    generator = torch.Generator().manual_seed(7)
    with_generator = model.generate(**inputs, max_new_tokens=15, generator=generator, progress_bar=False).sequences
    assert torch.equal(with_generator, first)
    with pytest.raises(ValueError, match="seed, generator: give at most one"):
        model.generate(**inputs, max_new_tokens=2, seed=1, generator=generator, progress_bar=False)


def test_batch_equals_singles(t5_model):
    model, processor = t5_model
    texts = ["calm piano", "fast jazz drums with bass", "folk guitar"]
    batch = model.generate(**captions(processor, *texts), max_new_tokens=15, seed=11, progress_bar=False)
    for row, text in enumerate(texts):
        single = model.generate(**captions(processor, text), max_new_tokens=15, seed=11 + row, progress_bar=False)
        assert torch.equal(batch.sequences[row], single.sequences[0])
        assert torch.allclose(batch.audio[row], single.audio[0], atol=1e-5)
    # Unpadded tokenizer output (different lengths) is padded to text_max_length inside generate: same result.
    raw = processor.tokenizer(texts, padding=True, return_tensors="pt")
    assert torch.equal(model.generate(**raw, max_new_tokens=15, seed=11, progress_bar=False).sequences,
                       batch.sequences)


def test_special_id_is_never_sampled_and_top_p_top_k_filter():
    model, processor = tiny_model_and_processor("t5")
    with torch.no_grad():
        model.decoder.lm_head[0].weight[SPECIAL] = 50 * model.decoder.lm_head[0].weight[0]
    inputs = captions(processor, "calm piano")
    hot = model.generate(**inputs, max_new_tokens=40, seed=0, temperature=5.0, top_k=0, progress_bar=False)
    assert hot.sequences.max() < SPECIAL and len(hot.sequences.unique()) > 10
    greedy = model.generate(**inputs, max_new_tokens=20, do_sample=False, progress_bar=False).sequences
    for options in (dict(top_k=1), dict(top_p=1e-6)):
        sampled = model.generate(**inputs, max_new_tokens=20, seed=1, progress_bar=False, **options).sequences
        assert torch.equal(sampled, greedy), options


def test_multi_codebook_delay_pattern_is_self_consistent():
    model, processor = tiny_model_and_processor("t5", num_codebooks=2)
    inputs = captions(processor, "calm piano", "jazz drums")
    output = model.generate(**inputs, max_new_tokens=10, do_sample=False, guidance_scale=1.0, progress_bar=False)
    codes = output.sequences
    assert codes.shape == (2, 2, 10) and codes.max() < SPECIAL
    assert output.audio.shape == (2, 1, 6400)
    # Teacher-forcing the greedy codes (the decoder applies the delay itself) must predict exactly those codes.
    text = model.encode_text(inputs["input_ids"], inputs["attention_mask"])
    full = torch.cat([torch.full((2, 2, 1), SPECIAL), codes], dim=-1)
    logits = model.decoder(full, encoder_hidden_states=text, encoder_attention_mask=inputs["attention_mask"]).logits
    logits[..., SPECIAL] = -math.inf
    assert torch.equal(logits[:, :, :-1].argmax(-1), codes)


def test_audio_prompt_continuation(t5_model):
    model, processor = t5_model
    inputs = captions(processor, "calm piano", "jazz drums")
    prompt = 0.1 * torch.sin(torch.arange(8000) / 8000 * 2 * math.pi * 220)[None]  # [1 channel, 1 s]
    prompt_codes = model.codec.encode(prompt[None])
    output = model.generate(**inputs, audio_prompt=prompt, max_new_tokens=5, seed=0, progress_bar=False)
    assert output.sequences.shape == (2, 1, prompt_codes.shape[-1] + 5)
    assert torch.equal(output.sequences[:, :, :prompt_codes.shape[-1]], prompt_codes.expand(2, -1, -1))
    from_processor = processor(text=["calm piano", "jazz drums"], audio=[prompt[0].numpy()] * 2, sampling_rate=8000)
    assert torch.equal(model.generate(**from_processor, max_new_tokens=5, seed=0, progress_bar=False).sequences,
                       output.sequences)
    stereo_16k = torch.stack([prompt[0], prompt[0]]).repeat_interleave(2, dim=-1)
    with pytest.warns(UserWarning, match="resampling from 16000 Hz to the codec's 8000 Hz"):
        resampled = model.generate(**inputs, audio_prompt=stereo_16k, audio_prompt_sampling_rate=16000,
                                   max_new_tokens=5, seed=0, progress_bar=False)
    assert resampled.sequences.shape == output.sequences.shape


@pytest.mark.parametrize("prompt, message", [
    (torch.zeros(1, 1, 1, 800), "audio_prompt: rank must be 1"),
    (torch.full((1, 800), float("nan")), "audio_prompt: contains NaN"),
    (torch.zeros(3, 800), r"audio_prompt: channel count must be one of \[1, 2\], got 3"),
    (torch.zeros(3, 1, 800), "audio_prompt: batch dimension must be 1 or the number of prompts"),
])
def test_bad_audio_prompts(t5_model, prompt, message):
    model, processor = t5_model
    with pytest.raises(ValueError, match=message):
        model.generate(**captions(processor, "calm piano"), audio_prompt=prompt, max_new_tokens=2,
                       progress_bar=False)
    with pytest.raises(TypeError, match="audio_prompt: must hold float samples"):
        model.generate(**captions(processor, "calm piano"), audio_prompt=torch.zeros(800, dtype=torch.int16),
                       max_new_tokens=2, progress_bar=False)


@pytest.mark.parametrize("options, message", [
    (dict(duration=0), r"duration: must be in \(0, 600\] seconds"),
    (dict(duration=-1.0), r"duration: must be in \(0, 600\] seconds"),
    (dict(duration=601.0), r"duration: must be in \(0, 600\] seconds"),
    (dict(max_new_tokens=0), r"max_new_tokens: must be an integer in \[1, 7500\]"),
    (dict(duration=1.0, max_new_tokens=3), "duration, max_new_tokens: give at most one"),
    (dict(guidance_scale=-0.5), "guidance_scale: must be a finite number >= 0"),
    (dict(temperature=0.0), "temperature: must be in"),
    (dict(top_k=-1), "top_k: must be an integer >= 0"),
    (dict(top_p=0.0), r"top_p: must be in \(0, 1\]"),
    (dict(top_p=1.5), r"top_p: must be in \(0, 1\]"),
    (dict(seed=[1, 2]), "seed: must be an int or a list of 1 ints"),
])
def test_bad_generation_arguments(t5_model, options, message):
    model, processor = t5_model
    with pytest.raises(ValueError, match=message):
        model.generate(**captions(processor, "calm piano"), progress_bar=False, **{"max_new_tokens": 2, **options}
                       if "duration" not in options else options)


def test_bad_prompts_and_unknown_arguments(t5_model):
    model, processor = t5_model
    with pytest.raises(ValueError, match="text\\[1\\]: prompts must be non-empty strings"):
        processor(["calm piano", "  "])
    with pytest.raises(TypeError, match="text\\[0\\]: prompts must be strings"):
        processor([3])
    with pytest.raises(TypeError, match="text: must be a non-empty string or a non-empty list"):
        processor([])
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['top_q'\]"):
        model.generate(**captions(processor, "calm piano"), top_q=0.5)
    with pytest.raises(ValueError, match="input_ids: tokenized captions of shape"):
        model.generate(max_new_tokens=2)


def test_text_pad_token_id_fills_padded_caption_positions():
    # the decoder sees padding, as converted checkpoints do
    model, processor = tiny_model_and_processor("t5", use_text_mask=False)
    assert model.config.text_pad_token_id == 0  # for_model took the tokenizer's <pad>
    inputs = captions(processor, "calm piano")
    assert inputs["input_ids"][0].tolist() == [10, 5, 1, 0, 0, 0, 0, 0]
    empty_ids, empty_mask = model._unconditional_captions(1)
    assert empty_ids[0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0] and empty_mask[0].tolist() == [1] + [0] * 7
    model.config.text_pad_token_id = 1  # the released model pads with </s>
    ids, mask = model._pad_captions(inputs["input_ids"], inputs["attention_mask"])
    assert ids[0].tolist() == [10, 5, 1, 1, 1, 1, 1, 1] and mask[0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert model._unconditional_captions(1)[0][0].tolist() == [1] * 8
    padded_states = model.encode_text(ids, mask)[0, 3:] - model.encode_text(**inputs)[0, 3:]
    assert padded_states.abs().max() > 1e-3  # what a use_text_mask=False decoder sees does depend on the pad id
    model.config.text_pad_token_id = None  # keep the tokenizer's padding
    assert torch.equal(model._pad_captions(inputs["input_ids"], inputs["attention_mask"])[0], inputs["input_ids"])
