"""Tiny, randomly initialised models built from configs, for tests and offline smoke runs (`--model random`).

Nothing here is trained: the text encoder, decoder and codec are random (the codec's codebooks are drawn from real
encoder frames so that codes vary, see `randomize_codebooks`). The audio is structured noise and the prompt has no
learned meaning; it exists so that the whole path (text -> codes -> waveform -> WAV) runs offline on any machine.
"""

from __future__ import annotations

import torch
from transformers import (
    BertConfig,
    BertModel,
    EncodecConfig,
    EncodecModel,
    T5Config,
    T5EncoderModel,
    WavTokenizerConfig,
    WavTokenizerModel,
)

from .modeling.conditional_generation import SimbaMusicForConditionalGeneration
from .modeling.configuration_simba_music import SimbaMusicConfig
from .modeling.decoder import SimbaMusicForCausalLM

CODEBOOK_SIZE = 1024


def _encoder_and_codebooks(codec) -> tuple[torch.nn.Module, list]:
    """The waveform encoder and the codebooks, in residual order, of an `EncodecModel` or a `WavTokenizerModel`
    (whose encoder and single-codebook quantizer sit under `encoder_model`)."""
    if codec.config.model_type == "wavtokenizer":
        return codec.encoder_model.encoder, [codec.encoder_model.quantizer.codebook]
    return codec.encoder, [layer.codebook for layer in codec.quantizer.layers]


@torch.no_grad()
def randomize_codebooks(codec, seed: int = 0):
    """Fill each codebook of an `EncodecModel` (RVQ) or `WavTokenizerModel` (one VQ) with real encoder frames of a
    synthetic signal.

    A freshly initialised codec has all-zero codebooks (every code is 0), and Gaussian codebooks are no better: one
    entry ends up nearest to everything. Entries drawn from actual encoder outputs make the codes vary.
    """
    generator = torch.Generator().manual_seed(seed)
    rate = codec.config.sampling_rate
    t = torch.arange(rate * 4) / rate
    tones = sum(torch.sin(2 * torch.pi * f * t * (1 + 0.5 * t)) for f in (110.0, 220.0, 330.0, 440.0))
    signal = (0.2 * tones + 0.05 * torch.randn(t.shape, generator=generator)).reshape(1, 1, -1)
    encoder, codebooks = _encoder_and_codebooks(codec)
    frames = encoder(signal.repeat(1, codec.config.audio_channels, 1))[0].T  # [frames, dim]
    residual = frames
    for codebook in codebooks:
        picks = torch.randint(0, frames.shape[0], (codebook.embed.shape[0],), generator=generator)
        entries = residual[picks] + 1e-3 * torch.randn(codebook.embed.shape, generator=generator)
        codebook.embed.copy_(entries)
        codebook.embed_avg.copy_(entries)
        codebook.inited.fill_(1)
        nearest = torch.cdist(residual, entries).argmin(-1)
        residual = residual - entries[nearest]
    return codec


def tiny_random_codec(seed: int = 0) -> EncodecModel:
    """16 kHz mono, 50 frames/s, 2 codebooks of 1024, randomly initialised with usable codebooks."""
    torch.manual_seed(seed)
    config = EncodecConfig(sampling_rate=16000, audio_channels=1, num_filters=8, upsampling_ratios=[8, 5, 4, 2],
                           codebook_size=CODEBOOK_SIZE, target_bandwidths=[1.0], hidden_size=32, codebook_dim=32)
    return randomize_codebooks(EncodecModel(config).eval(), seed)


def tiny_random_decoder(seed: int = 0, text_hidden_size: int = 32) -> SimbaMusicForCausalLM:
    """A Prefix SiMBA decoder (d 64, 2 blocks) over a 1024-entry codebook, randomly initialised."""
    torch.manual_seed(seed)
    config = SimbaMusicConfig(hidden_size=64, num_hidden_layers=2, state_size=16, head_dim=16, chunk_size=64,
                              text_hidden_size=text_hidden_size, vocab_size=CODEBOOK_SIZE + 1,
                              special_token_id=CODEBOOK_SIZE)
    return SimbaMusicForCausalLM(config).eval()


TINY_WORDS = ["ambient", "piano", "guitar", "drums", "slow", "fast", "calm", "energetic", "bach", "chorale",
              "folk", "jazz", "bass", "strings", "in", "a", "major", "minor", "key", "with", "and", "music"]


def tiny_text_encoder(kind: str = "t5", hidden_size: int = 16, vocab_size: int = 64):
    """A 1-layer T5 encoder or BERT model; `kind` is "t5" or "bert"."""
    if kind == "t5":
        config = T5Config(vocab_size=vocab_size, d_model=hidden_size, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                          pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
        return T5EncoderModel(config).eval()
    if kind == "bert":
        config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=128, pad_token_id=0)
        return BertModel(config, add_pooling_layer=False).eval()
    raise ValueError(f"kind: must be 't5' or 'bert', got {kind!r}")


def tiny_codec(sampling_rate: int = 8000, codebook_size: int = 64, seed: int = 0) -> EncodecModel:
    """Mono EnCodec at 12.5 frames/s (hop 640), a few thousand parameters, codebooks drawn from real frames."""
    torch.manual_seed(seed)
    config = EncodecConfig(sampling_rate=sampling_rate, audio_channels=1, num_filters=2, upsampling_ratios=[8, 5, 4, 4],
                           codebook_size=codebook_size, target_bandwidths=[0.5, 1.0], hidden_size=8, codebook_dim=8,
                           num_lstm_layers=1, use_causal_conv=False, normalize=False)
    return randomize_codebooks(EncodecModel(config).eval(), seed)


def tiny_wavtokenizer(sampling_rate: int = 8000, codebook_size: int = 64, seed: int = 0):
    """One-codebook WavTokenizer at 12.5 frames/s (hop 640, n_fft 2560), a ConvNeXt decoder 16 wide x 2, codebook
    drawn from real frames."""
    torch.manual_seed(seed)
    config = WavTokenizerConfig(sampling_rate=sampling_rate, num_filters=2, upsampling_ratios=[8, 5, 4, 4],
                                hidden_size=8, codebook_dim=8, codebook_size=codebook_size, num_lstm_layers=1,
                                decoder_hidden_size=16, decoder_intermediate_size=32, decoder_num_layers=2,
                                decoder_attention_num_groups=4)
    return randomize_codebooks(WavTokenizerModel(config).eval(), seed)


def tiny_text_to_music(text_encoder: str = "t5", num_codebooks: int = 1, seed: int = 0, text_max_length: int = 8,
                       sampling_rate: int = 8000, audio_encoder=None,
                       **decoder_overrides) -> SimbaMusicForConditionalGeneration:
    """A complete random composite: tiny text encoder, Prefix SiMBA decoder (d 32 x 2) and `audio_encoder` (default:
    a tiny EnCodec, hop 640)."""
    codec = audio_encoder if audio_encoder is not None else tiny_codec(sampling_rate=sampling_rate, seed=seed)
    encoder = tiny_text_encoder(text_encoder)
    torch.manual_seed(seed)
    options = dict(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, chunk_size=8,
                   text_hidden_size=16, vocab_size=codec.config.codebook_size + 1,
                   special_token_id=codec.config.codebook_size, num_codebooks=num_codebooks)
    options.update(decoder_overrides)
    decoder = SimbaMusicForCausalLM(SimbaMusicConfig(**options)).eval()
    model = SimbaMusicForConditionalGeneration(text_encoder=encoder, audio_encoder=codec, decoder=decoder)
    model.config.text_max_length = text_max_length
    return model.eval()


def tiny_model_and_processor(kind: str = "t5", logit_scale: float = 20.0, **overrides):
    """`tiny_text_to_music(kind, **overrides)` with its processor. A random decoder is nearly uniform: its heads are
    scaled by `logit_scale` so that greedy/argmax comparisons mean something. (It also barely listens to its prefix
    beyond the SSM convolution window, so guidance effects show only at large scales.) Returns (model, processor)."""
    from .modeling.processing import SimbaMusicProcessor

    model = tiny_text_to_music(kind, **overrides)
    with torch.no_grad():
        for head in model.decoder.lm_head:
            head.weight.mul_(logit_scale)
    return model, SimbaMusicProcessor.for_model(model, tiny_tokenizer(kind=kind))


def tiny_tokenizer(words: list[str] | None = None, kind: str = "t5"):
    """An offline word-level `PreTrainedTokenizerFast`: ids 0 pad, 1 eos (T5-like, appended) or 1 [CLS] / 2 [SEP]
    (BERT-like), 3 unk, then the words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "[SEP]", "<unk>"] if kind == "t5" else ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
    vocab = {token: i for i, token in enumerate(specials + list(words or TINY_WORDS))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[3]))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    if kind == "t5":
        tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
        names = dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    else:
        tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                                 special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
        names = dict(pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]")
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **names)


def random_model(seed: int = 0):
    """`--model random`: the tiny random decoder and 16 kHz codec above, a random T5 encoder and a word-level
    tokenizer, assembled as a real composite. Returns (model, processor)."""
    from .modeling.processing import SimbaMusicProcessor

    encoder = tiny_text_encoder("t5", hidden_size=32)
    model = SimbaMusicForConditionalGeneration(text_encoder=encoder, audio_encoder=tiny_random_codec(seed),
                                               decoder=tiny_random_decoder(seed, text_hidden_size=32))
    model.config.text_max_length = 16
    processor = SimbaMusicProcessor.for_model(model.eval(), tiny_tokenizer())
    return model, processor
