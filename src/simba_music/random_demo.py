"""A tiny, randomly initialised decoder and EnCodec codec, for smoke runs before trained weights exist.

Nothing here is trained: the audio it makes is structured noise and the prompt has no learned meaning. It exists so
that the whole path (text -> codes -> waveform -> WAV) runs offline on any machine.
"""

from __future__ import annotations

import torch
from transformers import EncodecConfig, EncodecModel

from .modeling.configuration_simba_music import SimbaMusicConfig
from .modeling import SimbaMusicForCausalLM

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
