"""Key steering: each pitch-codec code's chroma and key fit against codes of known chords, and generation that the
bias moves toward the key and leaves alone when off."""

import math

import pytest
import torch

from simba_music import PitchCodecConfig, PitchCodecModel
from simba_music.modeling.audio_codec import AudioCodec
from simba_music.modeling.key_steering import caption_keys, code_key_fit, steering_bias
from simba_music.modeling.keys import find_keys, key_index, key_name, stated_key
from simba_music.modeling.processing import SimbaMusicProcessor
from simba_music.testing_utils import tiny_model_and_processor, tiny_text_to_music, tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")
RATE = 8000
# Code c of the chord codec: a triad in octave 4, tonic c % 12, major for c < 12 and minor after.
TRIADS = [(tonic, (0, 4, 7) if c < 12 else (0, 3, 7)) for c, tonic in enumerate(list(range(12)) * 2)]


def chord(tonic: int, intervals, samples: int = 4096) -> torch.Tensor:
    """Harmonic tones (4 partials, 1/h) of a triad rooted on MIDI 60 + tonic."""
    t = torch.arange(samples) / RATE
    out = torch.zeros(samples)
    for interval in intervals:
        f0 = 440.0 * 2 ** ((60 + tonic + interval - 69) / 12)
        for h in range(1, 5):
            out += torch.sin(2 * math.pi * h * f0 * t) / h
    return 0.1 * out


def chord_codec() -> PitchCodecModel:
    """One codebook of 24 codes, code c the log-spectrum of TRIADS[c] (a steady frame from its middle)."""
    config = PitchCodecConfig(sampling_rate=RATE, hop_length=80, analysis_n_fft=1024, num_codebooks=1,
                              codebook_size=24, decoder_hidden_size=16, decoder_num_layers=1, decoder_kernel_size=3)
    codec = PitchCodecModel(config).eval()
    frames = [codec.features(chord(tonic, intervals)[None, None])[0, 25] for tonic, intervals in TRIADS]
    codec.set_codebooks(torch.stack(frames)[None])
    return codec


def chord_model(seed: int = 0):
    """A random tiny text-to-music model on the chord codec (its decoder nearly uniform over the 24 codes)."""
    model = tiny_text_to_music(audio_encoder=chord_codec(), seed=seed)
    return model, SimbaMusicProcessor.for_model(model, tiny_tokenizer(kind="t5"))


def record_generate(model, argument: str) -> tuple[list, list]:
    """Make `model.generate` record, call by call, the `argument` it was given and the codes [B, K, T] it made."""
    heard, codes = [], []
    original = model.generate

    def recording_generate(*args, **kwargs):
        output = original(*args, **kwargs)
        heard.append(kwargs.get(argument))
        codes.append(output.sequences)
        return output

    model.generate = recording_generate
    return heard, codes


def test_code_chroma_names_the_notes_each_code_holds():
    chroma = chord_codec().code_chroma()
    assert chroma.shape == (24, 12)
    for code, (tonic, intervals) in enumerate(TRIADS):
        loudest = set(chroma[code].topk(3).indices.tolist())
        assert loudest == {(tonic + interval) % 12 for interval in intervals}, code


def test_each_triad_fits_its_own_key_best_among_keys_of_its_mode():
    fit = code_key_fit(chord_codec().code_chroma())
    assert fit.shape == (24, 24) and float(fit.abs().max()) <= 1.0
    for code, (tonic, _) in enumerate(TRIADS):
        mode_keys = slice(0, 12) if code < 12 else slice(12, 24)
        assert int(fit[code, mode_keys].argmax()) == tonic, code
    # C major: its tonic triad fits (0.8+), the triad a tritone away does not (< 0)
    assert fit[0, 0] > 0.8 and fit[6, 0] < 0.0
    assert torch.equal(code_key_fit(torch.zeros(3, 12)), torch.zeros(3, 24))  # silent codes fit no key


def test_steering_moves_the_codes_into_the_key_and_is_a_no_op_when_off():
    model, processor = chord_model()
    inputs = processor(text=["organ chorale"], return_tensors="pt")
    fit = code_key_fit(model.audio_encoder.code_chroma())[:, key_index(0, "major")]

    def codes(**steering):
        return model.generate(**inputs, max_new_tokens=200, seed=3, return_audio=False, progress_bar=False,
                              **steering).sequences[0, 0]

    free, steered, hard = codes(), codes(key="C major", key_strength=4.0), codes(key="C major", key_strength=50.0)
    in_key = fit > 0.3  # the C, F and G major and C, E and A minor triads
    assert in_key.nonzero().flatten().tolist() == [0, 5, 7, 12, 16, 21]
    share = [float(in_key[c].float().mean()) for c in (free, steered, hard)]
    assert share[0] < 0.45 and share[1] > share[0] + 0.2 and share[2] == 1.0, share
    assert float(fit[steered].mean()) > float(fit[free].mean()) + 0.2
    assert torch.equal(codes(key="C major", key_strength=0.0), free)
    assert torch.equal(codes(key=None), free)
    assert torch.equal(codes(key=["C major"], key_strength=4.0), steered)  # one key per row


def test_caption_keys_steer_only_models_that_opt_in():
    model, processor = chord_model()
    captions = ["organ chorale in C major", "organ chorale"]
    assert model.caption_steering(captions) == {}  # no key_strength in its generation config
    model.generation_config.key_strength = 4.0
    assert model.caption_steering(captions) == {"key": ["C major", None]}
    inputs = processor(text=captions[:1], return_tensors="pt")
    read = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False,
                          **model.caption_steering(captions[:1])).sequences
    given = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False,
                           key="C major").sequences  # the config's strength applies to an explicit key too
    plain = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False,
                           key_strength=0.0, key="C major").sequences
    assert torch.equal(read, given) and not torch.equal(read, plain)
    encodec_model, _ = tiny_model_and_processor()
    encodec_model.generation_config.key_strength = 4.0
    assert encodec_model.caption_steering(captions) == {}  # its codes carry no pitch to steer


def test_the_pipeline_follows_the_key_its_prompt_states():
    from simba_music.pipelines import TextToMusicPipeline

    model, processor = chord_model()
    model.generation_config.key_strength = 50.0
    pipe = TextToMusicPipeline(model=model, tokenizer=processor.tokenizer)
    heard, pipe_codes = record_generate(model, "key")
    pipe(["organ chorale in F# minor", "organ chorale in B flat major"], max_new_tokens=30, seed=0, batch_size=2)
    assert heard == [["F# minor", "B flat major"]]
    codes = pipe_codes[0][:, 0]  # at strength 50 every code is the asked key's tonic triad
    assert codes[0].unique().tolist() == [12 + 6] and codes[1].unique().tolist() == [10]
    heard.clear()
    pipe(["organ chorale", "organ chorale"], max_new_tokens=30, seed=0, batch_size=2, key=["D minor", None])
    assert heard == [["D minor", None]]  # one key per prompt, given
    with pytest.raises(ValueError, match="key: give one value or a list of 2"):
        pipe(["organ chorale", "organ chorale"], max_new_tokens=5, key=["D minor"])


def test_bad_steering_is_refused_before_the_decoder_runs():
    model, processor = chord_model()
    calls = []
    model.decoder.register_forward_hook(lambda *args: calls.append(1))
    inputs = processor(text=["organ chorale"], return_tensors="pt")
    for steering, message in [(dict(key="H major"), "key: expected '<tonic> major'"),
                              (dict(key=["C major", "D major"]), "key: must be one key or a list of 1"),
                              (dict(key=3), "key: expected a key name"),
                              (dict(key="C major", key_strength=-1.0), r"key_strength: must be in \[0, 50\]"),
                              (dict(key="C major", key_strength=float("nan")), "key_strength")]:
        with pytest.raises(ValueError, match=message):
            model.generate(**inputs, max_new_tokens=5, progress_bar=False, **steering)
    encodec_model, encodec_processor = tiny_model_and_processor()
    with pytest.raises(ValueError, match="key: this model's encodec codec does not say which pitches"):
        encodec_model.generate(**encodec_processor(text=["calm piano"], return_tensors="pt"), max_new_tokens=5,
                               key="C major", progress_bar=False)
    assert calls == []
    assert steering_bias(AudioCodec(chord_codec()), None, 4.0, 2) is None


@pytest.mark.parametrize("caption, expected", [
    ("a chorale in F# minor at 80 BPM", (6, "minor")),
    ("Dm groove", (2, "minor")),
    ("B flat major hymn", (10, "major")),
    ("e♭-major waltz", (3, "major")),
    ("a calm piano piece", None),
    ("from C major to A minor", None),  # two different keys: none to follow
    ("C major, in C major", (0, "major")),
    ("A minor-key ballad for piano", None),  # an article and a mode
    ("A major key piece in D major", (2, "major")),
    ("a piano piece in A minor", (9, "minor")),
    ("A major film score for strings", None),
    ("Am I dreaming, a harp piece", None),
    ("a ballad in A minor key", (9, "minor")),
    ("A flat major key signature hymn", (8, "major")),
    ("Strings. A minor waltz", None),
])
def test_stated_key(caption, expected):
    assert stated_key(caption) == expected
    assert caption_keys([caption]) == [None if expected is None else key_name(*expected)]


def test_find_keys_gives_where_each_key_is_written():
    text = "modulates from C major to Bbm"
    assert find_keys(text) == [((0, "major"), (15, 22)), ((10, "minor"), (26, 29))]
