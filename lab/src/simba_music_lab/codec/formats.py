"""The two codec formats the trainer writes, seen through one small interface.

- ``encodec``: transformers ``EncodecModel``: SEANet encoder, residual VQ (``quantizer.layers``), SEANet decoder.
- ``wavtokenizer``: transformers ``WavTokenizerModel``: the same SEANet encoder and one VQ codebook (under
  ``encoder_model``), and a Vocos decoder (ConvNeXt ``backbone`` + inverse-STFT ``head``).

Both store their codebooks as the same ``EncodecEuclideanCodebook`` buffers, so k-means, EMA updates and dead-code
restarts (:mod:`simba_music_lab.codec.quantizer`) train either one, and ``save_pretrained`` output loads with the stock
class.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

CODEC_FORMATS = ("encodec", "wavtokenizer")


def codec_encoder(model):
    """The waveform -> latent-frames encoder: (B, 1, samples) -> (B, D, frames). For the pitch codec, its fixed
    log-STFT analysis (what its codebooks quantize)."""
    if model.config.model_type == "pitch_codec":
        return lambda waveform: model.features(waveform).transpose(1, 2)
    return model.encoder_model.encoder if model.config.model_type == "wavtokenizer" else model.encoder


def codec_quantizer(model):
    """Something with ``.layers``, each holding a ``.codebook``: the RVQ itself, or WavTokenizer's one VQ layer."""
    if model.config.model_type == "wavtokenizer":
        return SimpleNamespace(layers=[model.encoder_model.quantizer])
    return model.quantizer


def codec_encoder_parts(model) -> list[torch.nn.Module]:
    """Every module that decides a clip's codes: the encoder and the quantizer (codebooks)."""
    if model.config.model_type == "wavtokenizer":
        return [model.encoder_model]
    return [model.encoder, model.quantizer]


def decode_latents(model, quantized: torch.Tensor) -> torch.Tensor:
    """Quantized latents (B, D, frames) -> waveform (B, 1, frames * hop), differentiably."""
    if model.config.model_type == "wavtokenizer":
        bandwidth_id = torch.zeros(1, dtype=torch.long, device=quantized.device)  # inference always uses id 0
        return model.head(model.backbone(quantized, bandwidth_id))
    return model.decoder(quantized)
