import numpy as np
import pytest
from transformers import pipeline

from simba_music.pipelines import TextToMusicPipeline

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def test_builtin_text_to_audio_pipeline_on_an_instance_with_batching(t5_model):
    model, processor = t5_model
    pipe = pipeline("text-to-audio", model=model, tokenizer=processor.tokenizer)
    outputs = pipe(["calm piano", "fast jazz drums with bass"], batch_size=2,
                   generate_kwargs=dict(max_new_tokens=10, seed=0, progress_bar=False))
    assert [output["sampling_rate"] for output in outputs] == [8000, 8000]
    assert [output["audio"].shape for output in outputs] == [(6400,), (6400,)]
    single = pipe("fast jazz drums with bass", generate_kwargs=dict(max_new_tokens=10, seed=1, progress_bar=False))
    np.testing.assert_allclose(single["audio"], outputs[1]["audio"], atol=1e-5)


def test_builtin_text_to_audio_pipeline_on_a_saved_directory_with_batching(saved_dir, t5_model):
    model, processor = t5_model
    texts = ["calm piano", "fast jazz drums with bass"]
    outputs = pipeline("text-to-audio", model=str(saved_dir))(
        texts, batch_size=2, generate_kwargs=dict(max_new_tokens=10, seed=0, progress_bar=False))
    direct = model.generate(**processor(texts), max_new_tokens=10, seed=0, progress_bar=False)
    for row, output in enumerate(outputs):
        assert output["sampling_rate"] == 8000
        np.testing.assert_allclose(output["audio"], direct.audio[row, 0].numpy(), atol=1e-5)


def test_text_to_music_pipeline_duration_seed_batch_and_streaming(saved_dir):
    pipe = pipeline("text-to-music", model=str(saved_dir))
    assert isinstance(pipe, TextToMusicPipeline)
    chunks = []
    texts = ["calm piano", "fast jazz drums", "slow bach chorale"]
    outputs = pipe(texts, duration=2.0, guidance_scale=3.0, seed=5, batch_size=2, on_audio_chunk=chunks.append)
    assert [output["audio"].shape for output in outputs] == [(16000,)] * 3  # mono: [samples]
    assert all(output["sampling_rate"] == 8000 for output in outputs)
    assert sum(chunk.shape[0] * chunk.shape[-1] for chunk in chunks) == 3 * 16000
    for index, text in enumerate(texts):  # prompt i uses seed + i whatever the batching
        alone = pipe(text, duration=2.0, guidance_scale=3.0, seed=5 + index)
        np.testing.assert_allclose(alone["audio"], outputs[index]["audio"], atol=1e-5)
    assert not np.allclose(outputs[0]["audio"], outputs[1]["audio"])


def test_text_to_music_pipeline_rejects_bad_input(saved_dir):
    pipe = pipeline("text-to-music", model=str(saved_dir))
    with pytest.raises(ValueError, match="text\\[0\\]: prompts must be non-empty strings"):
        pipe("")
    with pytest.raises(TypeError, match="text: must be a non-empty string"):
        pipe(None)
    with pytest.raises(ValueError, match=r"duration: must be in \(0, 600\] seconds"):
        pipe("calm piano", duration=0)
    with pytest.raises(TypeError, match=r"unexpected arguments \['length'\]"):
        pipe("calm piano", length=3)


def test_text_to_music_pipeline_on_an_instance_needs_the_tokenizer(t5_model):
    model, processor = t5_model
    with pytest.raises(ValueError, match="tokenizer: the text-to-music pipeline needs the caption tokenizer"):
        TextToMusicPipeline(model=model)("calm piano")
    output = TextToMusicPipeline(model=model, tokenizer=processor.tokenizer)("calm piano", duration=0.8, seed=0)
    assert output["audio"].shape == (10 * 640,) and output["sampling_rate"] == 8000


def test_both_pipelines_return_the_same_structure_and_audio_for_one_prompt(saved_dir):
    # The structure transformers' text-to-audio pipeline gives MusicGen: {"audio": float32 [samples] (mono),
    # "sampling_rate": int}; ours must match it key for key, shape for shape and value for value.
    builtin = pipeline("text-to-audio", model=str(saved_dir))(
        "calm piano", generate_kwargs=dict(duration=0.8, seed=3, guidance_scale=3.0, progress_bar=False))
    ours = pipeline("text-to-music", model=str(saved_dir))("calm piano", duration=0.8, seed=3, guidance_scale=3.0)
    assert set(builtin) == set(ours) == {"audio", "sampling_rate"}
    assert builtin["audio"].shape == ours["audio"].shape == (10 * 640,)
    assert builtin["audio"].dtype == ours["audio"].dtype == np.float32
    assert builtin["sampling_rate"] == ours["sampling_rate"] == 8000
    np.testing.assert_allclose(ours["audio"], builtin["audio"], atol=1e-5)
    assert np.abs(ours["audio"]).max() > 1e-4


def test_audio_output_keeps_stereo_channels_and_a_single_sample():
    import torch

    from simba_music.pipelines.text_to_music import audio_output

    assert audio_output(torch.zeros(1, 2, 5), 8000)["audio"].shape == (2, 5)
    assert audio_output(torch.zeros(1, 1, 1), 8000)["audio"].shape == (1,)
