import threading

import pytest
import torch

from simba_music.live import LiveStream
from simba_music.modeling.cache import SimbaMusicCache, SSMState
from simba_music.testing_utils import tiny_model_and_processor

# A step of the tiny composites is a few dozen small ops: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")

CONDITIONINGS = {
    "prefix": dict(),
    "cross_attention": dict(block_pattern=["mamba2", "cross_attention", "mlp"], conditioning="cross_attention",
                            num_attention_heads=4),
}


def tiny(conditioning="prefix", **overrides):
    return tiny_model_and_processor("t5", **CONDITIONINGS[conditioning], **overrides)


def run(stream, steps):
    """Codes [K, frames] and audio [channels, samples] of `steps` more steps."""
    codes = [stream.step() for _ in range(steps)]
    codes = torch.stack([frame for frame in codes if frame is not None], dim=-1)
    audio = stream.pop_audio()
    return codes, torch.cat(audio, dim=-1) if audio else None


def ssm_states(cache, row):
    return {key: (state.conv_state[row], state.ssm_state[row]) for key, state in cache.states.items()
            if isinstance(state, SSMState)}


def assert_rows_restarted(stream, model, processor, captions, primed, stepped):
    """Every row of `stream` (one per caption, then the empty caption) holds what a fresh decoder makes of its
    caption, the start id and the `primed` codes [1, n] from position 0, then the `stepped` codes [1, m]."""
    inputs = processor(captions)
    ids, mask = model._pad_captions(inputs["input_ids"], inputs["attention_mask"])
    empty_ids, empty_mask = model._unconditional_captions(1)
    ids, mask = torch.cat([ids, empty_ids]), torch.cat([mask, empty_mask])
    rows = len(captions) + 1
    start = torch.full((rows, 1), model.config.decoder.special_token_id)
    fresh = SimbaMusicCache()
    with torch.no_grad():
        model.decoder(torch.cat([start, primed.repeat(rows, 1)], dim=-1),
                      encoder_hidden_states=model.encode_text(ids, mask), encoder_attention_mask=mask, cache=fresh,
                      use_cache=True)
        logits = model.decoder(stepped.repeat(rows, 1), cache=fresh, use_cache=True).logits[:, -1]
    torch.testing.assert_close(stream.row_logits[:, 0], logits, atol=1e-4, rtol=1e-4)
    for row in range(rows):
        for key, (conv, ssm) in ssm_states(fresh, row).items():
            torch.testing.assert_close(ssm_states(stream.cache, row)[key][0], conv, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(ssm_states(stream.cache, row)[key][1], ssm, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("conditioning", list(CONDITIONINGS))
@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_one_prompt_of_weight_one_plays_what_generate_samples(conditioning, num_codebooks):
    model, processor = tiny(conditioning, num_codebooks=num_codebooks)
    stream = LiveStream(model, processor, [("calm piano", 1.0)], seed=7, guidance_scale=3.0, temperature=1.1,
                        top_k=20)
    live, _ = run(stream, 30)
    generated = model.generate(**processor(["calm piano"]), max_new_tokens=30, seed=7, guidance_scale=3.0,
                               temperature=1.1, top_k=20, progress_bar=False).sequences[0]
    # generate's last K - 1 steps feed the end padding; every frame before them is the same draw
    assert torch.equal(live[:, :30 - num_codebooks], generated[:, :30 - num_codebooks])


@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_streamed_chunks_equal_the_one_shot_decode_of_their_codes(num_codebooks):
    model, processor = tiny(num_codebooks=num_codebooks)
    stream = LiveStream(model, processor, "calm piano", seed=0, chunk_seconds=0.4)
    codes, audio = run(stream, 60)
    one_shot = model.codec.decode(codes[None])[0, :, :audio.shape[-1]]
    assert audio.shape[-1] >= 40 * model.codec.hop_length  # most of the 60 frames were decoded, in chunks of 5
    assert (audio - one_shot).abs().max() < 1e-4 * one_shot.abs().max()


def test_iterating_yields_chunks_of_the_asked_length():
    model, processor = tiny()
    stream = LiveStream(model, processor, "calm piano", chunk_seconds=0.4)
    chunks = [next(stream) for _ in range(3)]
    assert [tuple(chunk.shape) for chunk in chunks] == [(1, 5 * model.codec.hop_length)] * 3


def test_the_mix_is_the_weighted_guidance_formula():
    """Rows are the prompts' own conditional logits; the step samples the argmax (top_k=1) of
    uncond + g * (0.7 (cond_1 - uncond) + 0.3 (cond_2 - uncond)); weights are relative (1.4 / 0.6 is the same)."""
    model, processor = tiny("cross_attention")  # the tiny prefix model barely hears its prompt after one step
    guidance = 4.0
    stream = LiveStream(model, processor, [("calm piano", 1.4), ("jazz drums", 0.6)], guidance_scale=guidance,
                        top_k=1)
    alone = [LiveStream(model, processor, text, guidance_scale=guidance) for text in ("calm piano", "jazz drums")]
    torch.testing.assert_close(stream.row_logits[0], alone[0].row_logits[0])
    torch.testing.assert_close(stream.row_logits[1], alone[1].row_logits[0])
    torch.testing.assert_close(stream.row_logits[2], alone[0].row_logits[1])  # the empty caption, last
    for _ in range(10):
        piano, drums, empty = stream.row_logits.clone()
        expected = empty + guidance * (0.7 * (piano - empty) + 0.3 * (drums - empty))
        unweighted = empty + guidance * ((piano - empty) + (drums - empty))
        assert (unweighted - expected).abs().max() > 0.05  # dropping the weights would show
        torch.testing.assert_close(stream.next_logits()[0], expected, atol=1e-5, rtol=1e-5)
        assert torch.equal(stream.step(), expected[..., :-1].argmax(-1).flatten())  # never the special id


def test_a_replayed_change_log_is_bit_identical():
    model, processor = tiny(num_codebooks=2)
    options = dict(seed=5, chunk_seconds=0.4, priming_seconds=1.0, reprime_seconds=2.0)  # two reprimes too
    stream = LiveStream(model, processor, "calm piano", **options)
    # Changes from another thread, at whatever step the stream has reached when they arrive.
    steering = threading.Thread(target=lambda: [
        stream.add_prompt("jazz drums", 0.5), stream.set_sampling(temperature=0.8, top_k=5, guidance_scale=2.0),
        stream.set_prompts([("jazz drums", 1.0), ("slow strings", 0.3)])])
    first, _ = run(stream, 5)
    steering.start()
    codes, audio = run(stream, 40)
    steering.join()
    codes = torch.cat([first, codes], -1)
    last, _ = run(stream, 5)
    assert len(stream.change_log) == 3 and stream.mix == (("jazz drums", 1.0), ("slow strings", 0.3))

    replayed = LiveStream(model, processor, "calm piano", replay=stream.change_log, **options)
    replayed_codes, replayed_audio = run(replayed, 45)
    assert torch.equal(replayed_codes, codes) and torch.equal(replayed_audio, audio)
    assert torch.equal(run(replayed, 5)[0], last)
    assert replayed.change_log == stream.change_log
    unsteered, _ = run(LiveStream(model, processor, "calm piano", **options), 50)
    assert not torch.equal(unsteered[:, :codes.shape[-1]], codes)  # the changes did change the music


def test_memory_is_the_same_after_n_and_10n_steps():
    model, processor = tiny(num_codebooks=2)
    stream = LiveStream(model, processor, [("calm piano", 0.5), ("jazz drums", 0.5)], chunk_seconds=0.4,
                        priming_seconds=1.0, reprime_seconds=3.0, codec_context_seconds=1.0)

    def sizes():
        tensors = [value for state in stream.cache.states.values() for value in vars(state).values()
                   if isinstance(value, torch.Tensor)]
        tensors += [stream.window.ring, stream.chunker.buffer, stream.row_logits]
        return [tuple(tensor.shape) for tensor in tensors]

    run(stream, 30)
    after_n = sizes()
    stream.set_prompts([("jazz drums", 1.0), ("slow strings", 1.0)])  # a row leaves, a row joins
    run(stream, 270)
    assert sizes() == after_n
    assert len(stream.pop_audio()) == 0 and len(stream.change_log) == 1


@pytest.mark.parametrize("conditioning", list(CONDITIONINGS))
def test_a_joining_prompt_is_as_if_it_had_been_there_from_the_start(conditioning):
    """With the whole history inside the priming window, a row primed at step 6 holds the state of a row that
    stepped from the start (at weight 0, so that both streams sample the same codes)."""
    model, processor = tiny(conditioning, num_codebooks=2)
    there = LiveStream(model, processor, [("calm piano", 1.0), ("jazz drums", 0.0)], seed=3)
    joins = LiveStream(model, processor, "calm piano", seed=3)
    assert torch.equal(run(there, 6)[0], run(joins, 6)[0])
    joins.add_prompt("jazz drums", 0.0)
    assert torch.equal(run(there, 4)[0], run(joins, 4)[0])
    assert joins.mix == there.mix
    torch.testing.assert_close(joins.row_logits, there.row_logits, atol=1e-4, rtol=1e-4)
    for key, (conv, ssm) in ssm_states(there.cache, 1).items():
        joined_conv, joined_ssm = ssm_states(joins.cache, 1)[key]
        torch.testing.assert_close(joined_conv, conv, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(joined_ssm, ssm, atol=1e-4, rtol=1e-4)
    if conditioning == "cross_attention":  # the row attends to its own caption
        for key, state in there.cache.states.items():
            if not isinstance(state, SSMState):
                torch.testing.assert_close(joins.cache.states[key].keys[1], state.keys[1])


@pytest.mark.parametrize("conditioning", list(CONDITIONINGS))
def test_a_joining_prompt_reprimes_every_row_from_the_recent_codes(conditioning):
    """Past the priming window, a join leaves each row (the kept prompt, the new one, the empty caption) in the
    state the decoder makes of its caption, then the start id and the last window of codes at the positions of a
    stream that began with them, then the column sampled at the joining step."""
    model, processor = tiny(conditioning)
    stream = LiveStream(model, processor, "calm piano", seed=1, priming_seconds=0.8)  # 10 frames at 12.5/s
    codes, _ = run(stream, 25)
    stream.add_prompt("jazz drums")
    joining_step_code = stream.step()
    assert stream.columns_before_cache == 15
    assert_rows_restarted(stream, model, processor, ["calm piano", "jazz drums"], codes[:, 15:],
                          joining_step_code[None])


def test_a_change_of_weights_keeps_every_row_state():
    model, processor = tiny()
    stream = LiveStream(model, processor, [("calm piano", 1.0), ("jazz drums", 1.0)], seed=4)
    run(stream, 20)
    before = [ssm_states(stream.cache, row) for row in range(3)]
    stream.set_prompts([("jazz drums", 0.2), ("calm piano", 0.8)])  # new weights, new order, no new prompt
    stream._apply_changes()
    assert stream.mix == (("jazz drums", 0.2), ("calm piano", 0.8))
    for row, old_row in enumerate([1, 0, 2]):
        for key, (conv, ssm) in ssm_states(stream.cache, row).items():
            assert torch.equal(conv, before[old_row][key][0]) and torch.equal(ssm, before[old_row][key][1])


@pytest.mark.parametrize("conditioning", list(CONDITIONINGS))
def test_every_row_is_reprimed_so_that_positions_stay_bounded(conditioning):
    """Once the rows have seen 2 s (25 frames), all of them restart from their captions and the last 1 s (12
    frames) of codes, at the positions of a stream that began with them: the decoder never sees a position past 25
    frames."""
    model, processor = tiny(conditioning)
    stream = LiveStream(model, processor, [("calm piano", 1.0), ("jazz drums", 1.0)], seed=2, priming_seconds=0.8,
                        reprime_seconds=2.0)
    prefix = model.config.text_max_length if conditioning == "prefix" else 0
    codes, lengths = [], []
    for _ in range(80):
        codes.append(stream.step())
        lengths.append(stream.cache.seq_length)
    assert max(lengths) == prefix + 1 + 25 and lengths[25] == prefix + 1 + 13  # reprimed at step 25
    codes = torch.stack(codes, dim=-1)  # [1, 80]

    # Reprimes at steps 25, 38, 51, 64, 77 (each time 13 positions past the 12 kept); the last one, as the decoder
    # sees it from scratch: the start id and codes 65..76, then the codes of steps 77..79.
    assert stream.columns_before_cache == 65
    assert_rows_restarted(stream, model, processor, ["calm piano", "jazz drums"], codes[:, 65:77], codes[:, 77:])


def test_a_removed_prompt_leaves_the_cache_and_the_rest_plays_on():
    model, processor = tiny()
    stream = LiveStream(model, processor, [("calm piano", 1.0), ("jazz drums", 1.0)])
    run(stream, 3)
    drums = {key: (conv.clone(), ssm.clone()) for key, (conv, ssm) in ssm_states(stream.cache, 1).items()}
    drums_logits = stream.row_logits[1].clone()
    stream.remove_prompt("calm piano")
    stream._apply_changes()  # what the next step does first
    assert stream.row_logits.shape[0] == 2 and all(s.ssm_state.shape[0] == 2 for s in stream.cache.states.values())
    assert torch.equal(stream.row_logits[0], drums_logits)
    for key, (conv, ssm) in ssm_states(stream.cache, 0).items():
        assert torch.equal(conv, drums[key][0]) and torch.equal(ssm, drums[key][1])
    assert run(stream, 2)[0].shape == (1, 2)


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(prompts=[]), r"prompts: give 1 to 4"),
    (dict(prompts=[("a", 1)] * 2), "prompts: each prompt at most once"),
    (dict(prompts=[(str(i), 1) for i in range(5)]), "prompts: give 1 to 4"),
    (dict(prompts=[("a", -0.5), ("b", 1)]), "weights: each must be a finite number >= 0"),
    (dict(prompts=[("a", 0), ("b", 0)]), "weights: at least one must be > 0"),
    (dict(guidance_scale=101.0), r"guidance_scale: must be a finite number >= 0 and <= 100"),
    (dict(temperature=0.0), r"temperature: must be in \[0.01, 100\]"),
    (dict(top_k=-1), "top_k: must be an integer >= 0"),
    (dict(chunk_seconds=0), r"chunk_seconds: must be a number of seconds in \(0, 60\]"),
    (dict(codec_context_seconds=0), r"codec_context_seconds: must be a number of seconds in \(0, 60\]"),
    (dict(priming_seconds=-1), r"priming_seconds: must be a number of seconds in \(0, 5\]"),
    (dict(reprime_seconds=3.0), r"priming_seconds: must be a number of seconds in \(0, 1.5\], got 2.0"),
    (dict(max_prompts=0), r"max_prompts: must be an integer in \[1, 16\]"),
    (dict(reprime_seconds=0), r"reprime_seconds: must be a number of seconds in \(0, 600\]"),
    (dict(seed=-1), r"seed: must be an int in \[0, 2\*\*64\)"),
])
def test_bad_arguments_are_refused_by_name_before_any_work(t5_model, arguments, message):
    model, processor = t5_model
    arguments = {"prompts": "calm piano", **arguments}
    encode = model.encode_text
    model.encode_text = lambda *a, **k: pytest.fail("encoded text before refusing")
    try:
        with pytest.raises(ValueError, match=message):
            LiveStream(model, processor, **arguments)
    finally:
        model.encode_text = encode


def test_bad_changes_are_refused_at_once_and_the_stream_plays_on(t5_model):
    model, processor = t5_model
    stream = LiveStream(model, processor, "calm piano")
    with pytest.raises(ValueError, match="guidance_scale"):
        stream.set_sampling(guidance_scale=-1.0)
    with pytest.raises(ValueError, match="weights: at least one must be > 0"):
        stream.set_prompts([("calm piano", 0.0)])
    with pytest.raises(ValueError, match="text: 'jazz' is not in the mix"):
        stream.remove_prompt("jazz")
    with pytest.raises(ValueError, match="prompts: give 1 to 4"):
        stream.remove_prompt("calm piano")
    run(stream, 2)
    assert stream.change_log == [] and stream.mix == (("calm piano", 1.0),)


def test_a_self_attention_decoder_is_refused():
    model, processor = tiny_model_and_processor("t5", block_pattern=["attention", "cross_attention", "mlp"],
                                                conditioning="cross_attention", num_attention_heads=4)
    with pytest.raises(ValueError, match="model: live streams need a decoder with a constant-size state"):
        LiveStream(model, processor, "calm piano")


@pytest.mark.slow  # a few seconds: 8 s of the demo codec, decoded in chunks and at once
def test_the_demo_codec_joins_chunks_without_seams():
    """The shipped demo's codec (the pitch codec) carries its phase vocoder's state from chunk to chunk: the stream's
    chunks, decoded frame by frame, match the one-shot decode."""
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    import simba_music

    path = simba_music.demo_model_path()
    if path is None:
        pytest.skip("the shipped demo model is not in this checkout")
    model = AutoModelForTextToWaveform.from_pretrained(path).eval()
    stream = LiveStream(model, AutoProcessor.from_pretrained(path), "Solo flute plays a folk song.")
    codes = torch.randint(0, model.codec.codebook_size, (1, 1, 400), generator=torch.Generator().manual_seed(0))
    for frame in range(codes.shape[-1]):
        stream.chunker.push(codes[..., frame:frame + 1])
    streamed = torch.cat(stream.pop_audio(), dim=-1)
    one_shot = model.codec.decode(codes)[0, :, :streamed.shape[-1]]
    assert streamed.shape[-1] >= 7 * model.config.sampling_rate
    assert (streamed - one_shot).abs().max() < 1e-4 * one_shot.abs().max()
